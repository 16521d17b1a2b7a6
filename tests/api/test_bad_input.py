"""Bad input to the room endpoints over HTTP on SQLite and PostgreSQL, each followed by a
check that nothing was stored (issue 4: "Non-UTF-8 bodies, lone surrogates and duplicate
transaction ids never change what is stored").

* events over 65,536 bytes (client-server-api "Size limits": "The complete event MUST
  NOT be larger than 65536 bytes, when formatted with the federation event format,
  including any signatures, and encoded as Canonical JSON"): 413 ``M_TOO_LARGE``;
* state keys starting with ``@`` other than the sender's (the auth rules of every room
  version: "If the event has a state_key that starts with an @ and does not match the
  sender, reject"): 403 ``M_FORBIDDEN``;
* bodies that are not UTF-8, lone surrogate escapes (which Canonical JSON cannot encode),
  ``NaN``: 400 ``M_NOT_JSON``; JSON that is not an object: 400 ``M_BAD_JSON``; floats and
  integers outside the canonical range in event content: 400 ``M_BAD_JSON``;
* duplicate transaction ids (client-server-api "Transaction identifiers"): the first
  event id again, nothing new stored, whatever the content;
* ``M_BAD_STATE`` (client-server-api "Common error codes": "attempting to unban a user
  who is not banned"), ``M_UNSUPPORTED_ROOM_VERSION`` and ``M_ROOM_IN_USE`` for
  ``/createRoom`` and ``/upgrade``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def stored(h: Hs) -> tuple[int, int, int, int]:
    """What the database holds: stream position, events, transaction ids, rooms."""
    db = h.server.db
    counts = []
    for table in ("events", "event_txn_ids", "rooms"):
        row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None
        counts.append(int(row[0]))
    position = await h.server.room_storage.events.stream_position()
    return position, counts[0], counts[1], counts[2]


async def put_raw(h: Hs, path: str, raw: bytes, token: str) -> tuple[int, Any]:
    return await h.request("PUT", path, token=token, raw=raw)


async def setup(h: Hs) -> tuple[str, str, str, str]:
    """alice's public room with bob joined: ``(room, alice_token, bob_id, bob_token)``."""
    _, a = await h.user("alice")
    bob, b = await h.user("bob")
    room = await h.create_room(a, preset="public_chat")
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    return room, a, bob, b


async def test_too_large_events(hs: Hs) -> None:  # noqa: F811
    room, a, _, _ = await setup(hs)
    before = await stored(hs)
    send = f"{V3}/rooms/{room}/send/m.room.message"
    # The content alone is over the limit...
    status, body = await hs.request("PUT", f"{send}/big1", {"body": "x" * 70_000}, token=a)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    # ...or only the whole event is: content under 65,536 bytes, event over it
    content = {"body": "x" * (65_536 - 200)}
    assert len(orjson.dumps(content)) < 65_536
    status, body = await hs.request("PUT", f"{send}/big2", content, token=a)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    status, body = await hs.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.topic/", {"topic": "t" * 70_000}, token=a
    )
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    assert await stored(hs) == before
    # a retry with the same transaction id is still refused (nothing was recorded)
    status, body = await hs.request("PUT", f"{send}/big2", content, token=a)
    assert status == 413
    # an event just under the limit is fine
    ok = await hs.ok("PUT", f"{send}/small", {"body": "x" * 60_000}, token=a)
    got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{ok['event_id']}", token=a)
    assert len(got["content"]["body"]) == 60_000


async def test_state_keys_of_other_users(hs: Hs) -> None:  # noqa: F811
    room, a, bob, _ = await setup(hs)
    alice = f"@alice:{bob.split(':', 1)[1]}"
    before = await stored(hs)
    for key in (bob, "@nobody:elsewhere", "@"):
        status, body = await hs.put_state(a, room, "org.example.profile", {"x": 1}, key)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), key
    assert await stored(hs) == before
    # the sender's own user id as state key is fine, as is a key not starting with @
    assert (await hs.put_state(a, room, "org.example.profile", {"x": 1}, alice))[0] == 200
    assert (await hs.put_state(a, room, "org.example.profile", {"x": 2}, "plain"))[0] == 200
    assert (await hs.state(a, room, "org.example.profile", alice)) == {"x": 1}


async def test_malformed_json_bodies(hs: Hs) -> None:  # noqa: F811
    room, a, _, _ = await setup(hs)
    send = f"{V3}/rooms/{room}/send/m.room.message"
    state = f"{V3}/rooms/{room}/state/m.room.topic/"
    before = await stored(hs)
    cases = [
        (b'{"body": "caf\xe9"}', "M_NOT_JSON"),  # Latin-1, not UTF-8
        (b'{"body": "\xff\xfe"}', "M_NOT_JSON"),
        (b'{"body": "\\ud800"}', "M_NOT_JSON"),  # lone high surrogate
        (b'{"body": "\\udc00 low"}', "M_NOT_JSON"),  # lone low surrogate
        (b'{"\\ud83d": "key"}', "M_NOT_JSON"),  # in a key
        (b'{"body": NaN}', "M_NOT_JSON"),
        (b'{"body": "x"', "M_NOT_JSON"),
        (b"", "M_NOT_JSON"),
        (b"[1, 2]", "M_BAD_JSON"),
        (b'"text"', "M_BAD_JSON"),
        (b'{"body": "x", "n": 1.5}', "M_BAD_JSON"),  # floats are not canonical JSON
        (b'{"body": "x", "n": 9007199254740992}', "M_BAD_JSON"),  # > 2**53 - 1
    ]
    for i, (raw, code) in enumerate(cases):
        for path in (f"{send}/bad{i}", state):
            status, body = await put_raw(hs, path, raw, a)
            assert (status, body.get("errcode")) == (400, code), (raw, path, body)
    status, body = await hs.request("POST", f"{V3}/createRoom", token=a, raw=b'{"name": "\xff"}')
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    assert await stored(hs) == before
    # a proper surrogate pair is an ordinary character
    ok = await put_raw(hs, f"{send}/pair", b'{"body": "\\ud83d\\ude00"}', a)
    assert ok[0] == 200
    got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{ok[1]['event_id']}", token=a)
    assert got["content"]["body"] == "\U0001f600"


async def test_duplicate_transaction_ids(hs: Hs) -> None:  # noqa: F811
    room, a, _, b = await setup(hs)
    send = f"{V3}/rooms/{room}/send/m.room.message"
    first = await hs.ok("PUT", f"{send}/t1", {"body": "first"}, token=a)
    before = await stored(hs)
    # the same transaction id again, with the same or other content: the first event id
    for content in ({"body": "first"}, {"body": "second"}, {"other": True}):
        assert await hs.ok("PUT", f"{send}/t1", content, token=a) == first
    assert await stored(hs) == before
    got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{first['event_id']}", token=a)
    assert got["content"] == {"body": "first"}
    assert got["unsigned"]["transaction_id"] == "t1"
    # another device (here: another user) with the same transaction id sends anew
    other = await hs.ok("PUT", f"{send}/t1", {"body": "bob's"}, token=b)
    assert other != first
    # a second login of alice is another device: a new event
    status, login = await hs.request(
        "POST",
        f"{V3}/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "pw",
        },
    )
    assert status == 200, login
    again = await hs.ok("PUT", f"{send}/t1", {"body": "new device"}, token=login["access_token"])
    assert again != first
    # the other device does not see transaction_id on alice's first event
    got = await hs.ok(
        "GET", f"{V3}/rooms/{room}/event/{first['event_id']}", token=login["access_token"]
    )
    assert "transaction_id" not in got.get("unsigned", {})
    # concurrent retries of one transaction store one event
    after = await stored(hs)
    answers = await asyncio.gather(
        *(hs.ok("PUT", f"{send}/burst", {"body": "burst"}, token=a) for _ in range(8))
    )
    assert len({x["event_id"] for x in answers}) == 1
    assert (await stored(hs))[1] == after[1] + 1


async def test_post_send_without_txn_id_sends_each_time(hs: Hs) -> None:  # noqa: F811
    """Compatibility route (Synapse, Sytest): POST /send/{eventType}, no idempotency;
    bad bodies get the same errors as the PUT form."""
    room, a, _, _ = await setup(hs)
    send = f"{V3}/rooms/{room}/send/m.room.message"
    one = await hs.ok("POST", send, {"body": "x"}, token=a)
    two = await hs.ok("POST", send, {"body": "x"}, token=a)
    assert one["event_id"] != two["event_id"]
    got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{one['event_id']}", token=a)
    assert got["content"] == {"body": "x"} and "transaction_id" not in got["unsigned"]
    status, body = await hs.request("POST", send, raw=b"{not json", token=a)
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")


async def test_bad_state_and_room_errors(hs: Hs) -> None:  # noqa: F811
    room, a, bob, b = await setup(hs)
    carol, _ = await hs.user("carol")
    before = await stored(hs)
    # unbanning someone who is not banned
    assert await hs.err("POST", f"{V3}/rooms/{room}/unban", {"user_id": carol}, token=a) == (
        403,
        "M_BAD_STATE",
    )
    assert await stored(hs) == before
    # inviting or kicking a banned user
    await hs.ok("POST", f"{V3}/rooms/{room}/ban", {"user_id": bob}, token=a)
    banned = await stored(hs)
    assert await hs.err("POST", f"{V3}/rooms/{room}/invite", {"user_id": bob}, token=a) == (
        403,
        "M_BAD_STATE",
    )
    assert await hs.err("POST", f"{V3}/rooms/{room}/kick", {"user_id": bob}, token=a) == (
        403,
        "M_BAD_STATE",
    )
    assert await stored(hs) == banned
    # unsupported room versions
    for version in ("99", "", "1.5", "org.example.v2"):
        assert await hs.err("POST", f"{V3}/createRoom", {"room_version": version}, token=a) == (
            400,
            "M_UNSUPPORTED_ROOM_VERSION",
        ), version
    assert await hs.err("POST", f"{V3}/rooms/{room}/upgrade", {"new_version": "99"}, token=a) == (
        400,
        "M_UNSUPPORTED_ROOM_VERSION",
    )
    assert await stored(hs) == banned
    # an alias in use
    taken = await hs.create_room(a, room_alias_name="taken")
    created = await stored(hs)
    assert await hs.err("POST", f"{V3}/createRoom", {"room_alias_name": "taken"}, token=b) == (
        400,
        "M_ROOM_IN_USE",
    )
    assert await stored(hs) == created
    alias = await hs.ok("GET", f"{V3}/directory/room/%23taken:test.local", token=a)
    assert alias["room_id"] == taken
    joined = await hs.ok("GET", f"{V3}/joined_rooms", token=b)
    assert joined["joined_rooms"] == []


async def test_transaction_ids_are_scoped_per_endpoint(hs: Hs) -> None:  # noqa: F811
    """client-server-api "Transaction identifiers": a retransmission has the same
    transaction id and the same path; other endpoints (or paths) are other requests."""
    room, a, _, _ = await setup(hs)
    other = await hs.create_room(a)
    message = await hs.ok(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/same", {"body": "hi"}, token=a
    )
    # another event type, another room: new events
    reaction = await hs.ok(
        "PUT",
        f"{V3}/rooms/{room}/send/m.reaction/same",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": message["event_id"], "key": "x"}},
        token=a,
    )
    elsewhere = await hs.ok(
        "PUT", f"{V3}/rooms/{other}/send/m.room.message/same", {"body": "hi"}, token=a
    )
    assert len({message["event_id"], reaction["event_id"], elsewhere["event_id"]}) == 3
    # /redact with the same transaction id redacts (it is not /send's retry)...
    redact = f"{V3}/rooms/{room}/redact/{message['event_id']}/same"
    redaction = await hs.ok("PUT", redact, {}, token=a)
    assert redaction["event_id"] not in (message["event_id"], reaction["event_id"])
    got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{message['event_id']}", token=a)
    assert got["content"] == {}
    assert got["unsigned"]["redacted_because"]["event_id"] == redaction["event_id"]
    # ...and its own retry returns the same redaction, storing nothing
    before = await stored(hs)
    assert await hs.ok("PUT", redact, {"reason": "changed"}, token=a) == redaction
    assert await stored(hs) == before
    # redacting another event with that transaction id is another request
    again = await hs.ok("PUT", f"{V3}/rooms/{room}/redact/{reaction['event_id']}/same", {}, token=a)
    assert again != redaction
