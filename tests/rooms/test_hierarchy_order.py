"""Space child ordering and links (client-server-api "Ordering of children within a
space"), checked against the example in the spec's prose."""

from __future__ import annotations

from typing import Any

from ranvier.core.events import Event
from ranvier.core.room_versions import get_room_version
from ranvier.rooms.hierarchy import child_sort_key, is_child_link

V11 = get_room_version("11")


def child(state_key: str, ts: int, **content: Any) -> Event:
    pdu = {
        "type": "m.space.child",
        "state_key": state_key,
        "origin_server_ts": ts,
        "content": content,
        "sender": "@a:example.org",
        "room_id": "!space:example.org",
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
    }
    return Event(pdu, V11, f"$ev{state_key}")


def test_spec_example_order() -> None:
    via = ["example.org"]
    events = [
        child("!b:example.org", 1640341000000, order=" ", via=via),
        child("!a:example.org", 1640141000000, order="aaaa", via=via),
        child("!c:example.org", 1640841000000, order="first", via=via),
        child("!e:example.org", 1640641000000, via=via),
        child("!d:example.org", 1640741000000, via=via),
    ]
    ordered = [e.state_key for e in sorted(reversed(events), key=child_sort_key)]
    assert ordered == [
        "!b:example.org",
        "!a:example.org",
        "!c:example.org",
        "!e:example.org",
        "!d:example.org",
    ]


def test_invalid_orders_and_ties() -> None:
    via = ["example.org"]
    events = [
        child("!long:x", 5, order="x" * 51, via=via),  # too long: treated as no order
        child("!ctrl:x", 5, order="a\n", via=via),  # outside \x20-\x7E
        child("!num:x", 6, order=3, via=via),  # not a string
        child("!z:x", 1, order="same", via=via),
        child("!y:x", 1, order="same", via=via),  # same order and ts: by room id
    ]
    ordered = [e.state_key for e in sorted(events, key=child_sort_key)]
    assert ordered == ["!y:x", "!z:x", "!ctrl:x", "!long:x", "!num:x"]


def test_links_need_via() -> None:
    assert is_child_link(child("!a:x", 1, via=["x"]))
    assert not is_child_link(child("!a:x", 1))
    assert not is_child_link(child("!a:x", 1, via=[]))
    assert not is_child_link(child("!a:x", 1, via="x"))
