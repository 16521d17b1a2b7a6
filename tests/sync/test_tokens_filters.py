"""Sync tokens and filter application (pure code)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranvier.core.events import Event
from ranvier.core.room_versions import get_room_version
from ranvier.http.types import MatrixError
from ranvier.sync.filters import (
    EventFilter,
    RoomEventFilter,
    SyncFilter,
    parse_room_event_filter_param,
    project_fields,
    split_path,
    type_matches,
)
from ranvier.sync.tokens import (
    InvalidToken,
    SyncToken,
    pagination_token,
    parse_position,
    parse_sync_token,
)

positions = st.integers(min_value=0, max_value=2**62)


@given(positions, positions, positions)
def test_sync_token_round_trips(a: int, b: int, c: int) -> None:
    token = SyncToken(a, b, c)
    assert SyncToken.parse(str(token)) == token
    assert parse_position(str(token)) == a


@given(positions)
def test_pagination_token_round_trips(p: int) -> None:
    assert parse_position(pagination_token(p)) == p


def test_short_tokens_read_missing_streams_as_zero() -> None:
    assert SyncToken.parse("s5") == SyncToken(5, 0, 0)
    assert SyncToken.parse("s5_6") == SyncToken(5, 6, 0)
    assert SyncToken(1, 9, 3).advance(SyncToken(4, 2, 3)) == SyncToken(4, 9, 3)


@pytest.mark.parametrize(
    "bad",
    ["", "s", "x1_2_3", "s1_2_3_4_5_6_7_8", "s-1_0_0", "s1__2", "s١_2_3", "s" + "9" * 20, "s1 _2"],
)
def test_bad_tokens(bad: str) -> None:
    with pytest.raises(InvalidToken):
        SyncToken.parse(bad)
    with pytest.raises(MatrixError) as exc:
        parse_sync_token(bad)
    assert exc.value.errcode == "M_INVALID_PARAM"
    with pytest.raises(MatrixError):
        parse_position(bad)


def _event(etype: str, sender: str, content: dict[str, object], room: str = "!r:x") -> Event:
    pdu = {
        "type": etype,
        "sender": sender,
        "content": content,
        "room_id": room,
        "event_id": "$e",
        "origin_server_ts": 1,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
    }
    return Event(pdu, get_room_version("1"))


def test_type_globs() -> None:
    assert type_matches("m.room.message", ["m.room.*"])
    assert type_matches("m.room.message", ["*"])
    assert type_matches("m.room.message", ["m.*.message"])
    assert not type_matches("m.room.message", ["m.room"])
    assert not type_matches("m.room.message", ["m.room.messag"])
    assert not type_matches("m.roomXmessage", ["m.room.message"])  # '.' is literal
    assert type_matches("a[b]", ["a[b]"]) and not type_matches("ab", ["a[b]"])


def test_event_filter_rules() -> None:
    f = EventFilter.parse(
        {"types": ["m.*"], "not_types": ["m.room.member"], "not_senders": ["@b:x"]}
    )
    assert f.allows("m.room.message", "@a:x")
    assert not f.allows("m.room.member", "@a:x")  # not_types wins over types
    assert not f.allows("org.custom", "@a:x")
    assert not f.allows("m.room.message", "@b:x")
    assert not EventFilter.parse({"types": []}).allows("m.room.message", "@a:x")
    only = EventFilter.parse({"senders": ["@a:x", "@b:x"], "not_senders": ["@b:x"]})
    assert (
        only.allows("t", "@a:x") and not only.allows("t", "@b:x") and not only.allows("t", "@c:x")
    )
    assert EventFilter.parse({"limit": 10**9}).limit == 1000


def test_room_event_filter_rooms_and_urls() -> None:
    f = RoomEventFilter.parse(
        {"rooms": ["!r:x", "!s:x"], "not_rooms": ["!s:x"], "contains_url": True}
    )
    assert f.allows_event(_event("m.room.message", "@a:x", {"url": "mxc://x/y"}))
    assert not f.allows_event(_event("m.room.message", "@a:x", {"body": "x"}))
    assert not f.allows_event(_event("m.room.message", "@a:x", {"url": "u"}, room="!s:x"))
    no_url = RoomEventFilter.parse({"contains_url": False})
    assert no_url.allows_event(_event("m.room.message", "@a:x", {"body": "x"}))
    assert not no_url.allows_event(_event("m.room.message", "@a:x", {"url": "u"}))


def test_event_fields_paths_and_projection() -> None:
    assert split_path("content.body") == ("content", "body")
    assert split_path(r"content.m\.relates_to") == ("content", "m.relates_to")
    assert split_path(r"content.m\\foo") == ("content", "m\\foo")
    assert split_path(r"content.a\xb") == ("content", "a\\xb")
    event = {
        "type": "m.room.message",
        "content": {"body": "hi", "m.relates_to": {"rel_type": "x"}, "msgtype": "m.text"},
        "sender": "@a:x",
    }
    paths = [split_path(p) for p in ["type", r"content.m\.relates_to", "content.nope", "x.y"]]
    assert project_fields(event, paths) == {
        "type": "m.room.message",
        "content": {"m.relates_to": {"rel_type": "x"}},
    }
    sf = SyncFilter.parse({"event_fields": ["sender"]})
    assert sf.project(event) == {"sender": "@a:x"}
    assert SyncFilter.parse({}).project(event) is event


def test_room_event_filter_param_errors() -> None:
    assert parse_room_event_filter_param(None) == RoomEventFilter()
    for bad, code in (("{", "M_NOT_JSON"), ("[1]", "M_BAD_JSON"), ('{"limit": -1}', "M_BAD_JSON")):
        with pytest.raises(MatrixError) as exc:
            parse_room_event_filter_param(bad)
        assert exc.value.errcode == code
    parsed = parse_room_event_filter_param('{"lazy_load_members": true, "limit": 3}')
    assert parsed.lazy_load_members and parsed.limit == 3
