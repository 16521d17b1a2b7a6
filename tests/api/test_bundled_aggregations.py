"""Bundled aggregations in ``/messages``, ``/context`` and ``/sync`` over HTTP on SQLite and
PostgreSQL (client-server-api "Aggregations of child events": the endpoints where the
server should bundle, ``/sync`` only "when the relevant section has a ``limited`` value
of ``true``"; event_replacements "Server-side aggregation of m.replace relationships";
threading "Server-side aggregation of m.thread relationships")."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.sync_helpers import sync
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def send(h: Hs, token: str, room: str, txn: str, content: dict[str, Any]) -> str:
    out = await h.ok("PUT", f"{V3}/rooms/{room}/send/m.room.message/{txn}", content, token=token)
    await asyncio.sleep(0.003)  # distinct origin_server_ts, so "latest" is well defined
    return str(out["event_id"])


def edit(target: str, body: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": f"* {body}",
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": target},
    }


def reply_in_thread(root: str, body: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    }


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for e in events}


def relations(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event.get("unsigned", {}).get("m.relations", {}))


async def test_messages_and_context_bundle_edits_and_threads(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    edited = await send(hs, a, room, "r1", {"msgtype": "m.text", "body": "helo"})
    await send(hs, a, room, "e1", edit(edited, "hell"))
    latest_edit = await send(hs, a, room, "e2", edit(edited, "hello"))
    await send(hs, b, room, "e3", edit(edited, "hijacked"))  # other sender: never valid
    root = await send(hs, a, room, "r2", {"msgtype": "m.text", "body": "thread root"})
    await send(hs, b, room, "t1", reply_in_thread(root, "first"))
    last = await send(hs, b, room, "t2", reply_in_thread(root, "second"))
    await hs.ok(
        "PUT",
        f"{V3}/rooms/{room}/send/m.reaction/x1",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "+1"}},
        token=b,
    )

    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=50", token=a)
    chunk = by_id(page["chunk"])
    replace = relations(chunk[edited])["m.replace"]
    assert replace["event_id"] == latest_edit
    assert replace["content"]["m.new_content"]["body"] == "hello"
    thread = relations(chunk[root])["m.thread"]
    assert thread["count"] == 2 and thread["latest_event"]["event_id"] == last
    assert thread["current_user_participated"] is True  # alice sent the root
    assert "m.annotation" not in relations(chunk[root])  # reactions are not bundled
    assert relations(chunk[last]) == {}

    # /context: the event itself, and events around it, carry their bundles.
    ctx = await hs.ok("GET", f"{V3}/rooms/{room}/context/{root}?limit=20", token=b)
    assert relations(ctx["event"])["m.thread"]["count"] == 2
    assert relations(ctx["event"])["m.thread"]["current_user_participated"] is True
    before = by_id(ctx["events_before"])
    assert relations(before[edited])["m.replace"]["event_id"] == latest_edit
    ctx = await hs.ok("GET", f"{V3}/rooms/{room}/context/{edited}?limit=20", token=b)
    assert relations(ctx["event"])["m.replace"]["event_id"] == latest_edit
    assert (
        relations(by_id(ctx["events_after"])[root])["m.thread"]["latest_event"]["event_id"] == last
    )

    # A user who never took part: current_user_participated is false.
    _, c = await hs.user("carol")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=c)
    ctx = await hs.ok("GET", f"{V3}/rooms/{room}/context/{root}?limit=0", token=c)
    assert relations(ctx["event"])["m.thread"]["current_user_participated"] is False
    # Redacting the latest edit falls back to the one before it.
    await hs.ok("PUT", f"{V3}/rooms/{room}/redact/{latest_edit}/rd1", {}, token=a)
    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=50", token=a)
    fallback = relations(by_id(page["chunk"])[edited])["m.replace"]
    assert fallback["content"]["m.new_content"]["body"] == "hell"


async def test_sync_bundles_only_limited_timelines(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    since = (await sync(hs, b))["next_batch"]
    await send(hs, a, room, "x0", {"msgtype": "m.text", "body": "before"})
    original = await send(hs, a, room, "r1", {"msgtype": "m.text", "body": "typo"})
    fixed = await send(hs, a, room, "e1", edit(original, "fixed"))
    await send(hs, a, room, "x1", {"msgtype": "m.text", "body": "after"})

    # not limited: the edit is in the timeline itself, nothing is bundled
    body = await sync(hs, b, since=since, filter={"room": {"timeline": {"limit": 10}}})
    timeline = body["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is False
    assert relations(by_id(timeline["events"])[original]) == {}

    # limited (the first message is cut off): the original carries its latest edit
    body = await sync(hs, b, since=since, filter={"room": {"timeline": {"limit": 3}}})
    timeline = body["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is True
    assert timeline["events"][0]["event_id"] == original
    events = by_id(timeline["events"])
    assert relations(events[original])["m.replace"]["event_id"] == fixed

    # the federation format gets the bundle merged into the PDU's unsigned
    body = await sync(
        hs,
        b,
        since=since,
        filter={"event_format": "federation", "room": {"timeline": {"limit": 3}}},
    )
    pdus = body["rooms"]["join"][room]["timeline"]["events"]
    assert "prev_events" in pdus[0] and "signatures" in pdus[0]
    assert pdus[0]["unsigned"]["m.relations"]["m.replace"]["event_id"] == fixed
