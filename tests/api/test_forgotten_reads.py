"""Forgotten rooms over HTTP on SQLite and PostgreSQL (client-server-api "Leaving rooms";
leaving.yaml ``/forget``: "a user will no longer be able to retrieve history").

After forgetting, the room is left out of ``/sync`` (initial with ``include_leave`` and
incremental), ``/messages`` and ``/timestamp_to_event`` answer 403 ``M_FORBIDDEN`` (as to
a non-member, message_pagination.yaml) and so does ``/context``; ``/event`` and
``/relations`` 404 ``M_NOT_FOUND`` (as for an event the user may not see, rooms.yaml);
history that became ``world_readable`` stays readable, and re-joining restores everything.
"""

from __future__ import annotations

from typing import Any

from tests.api.sync_helpers import sync
from tests.api.test_directory_fixtures import V1, V3, Hs, hs  # noqa: F401

LEAVE_FILTER = {"room": {"include_leave": True}}


async def msg(h: Hs, token: str, room: str, body: str, **content: Any) -> str:
    out = await h.ok(
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.message/{body}",
        {"msgtype": "m.text", "body": body, **content},
        token=token,
    )
    return str(out["event_id"])


async def reads(h: Hs, token: str, room: str, event_id: str) -> dict[str, tuple[int, str]]:
    """``{endpoint: (status, errcode or "")}`` of each history read about ``event_id``."""
    paths = {
        "messages": f"{V3}/rooms/{room}/messages?dir=b",
        "context": f"{V3}/rooms/{room}/context/{event_id}",
        "event": f"{V3}/rooms/{room}/event/{event_id}",
        "relations": f"{V1}/rooms/{room}/relations/{event_id}",
        "timestamp": f"{V1}/rooms/{room}/timestamp_to_event?ts=0&dir=f",
    }
    out = {}
    for name, path in paths.items():
        status, body = await h.request("GET", path, token=token)
        out[name] = (status, "" if status == 200 else str(body.get("errcode")))
    return out


async def test_forgotten_room_is_unreadable_and_out_of_sync(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    m1 = await msg(hs, a, room, "m1")
    await msg(hs, b, room, "reply", **{"m.relates_to": {"rel_type": "m.reference", "event_id": m1}})
    before_leave = (await sync(hs, b))["next_batch"]
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)

    # Left, not forgotten: all readable, and the room is in the leave section.
    ok = {name: (200, "") for name in ("messages", "context", "event", "relations", "timestamp")}
    assert await reads(hs, b, room, m1) == ok
    assert room in (await sync(hs, b, filter=LEAVE_FILTER))["rooms"]["leave"]
    assert room in (await sync(hs, b, since=before_leave))["rooms"]["leave"]

    await hs.ok("POST", f"{V3}/rooms/{room}/forget", {}, token=b)
    assert await reads(hs, b, room, m1) == {
        "messages": (403, "M_FORBIDDEN"),
        "context": (403, "M_FORBIDDEN"),
        "event": (404, "M_NOT_FOUND"),
        "relations": (404, "M_NOT_FOUND"),
        "timestamp": (403, "M_FORBIDDEN"),
    }
    for body in (
        await sync(hs, b, filter=LEAVE_FILTER),
        await sync(hs, b, since=before_leave),
        await sync(hs, b, since=before_leave, filter=LEAVE_FILTER, full_state=True),
    ):
        assert all(room not in section for section in body["rooms"].values()), body["rooms"]
    # Alice is unaffected.
    assert await reads(hs, a, room, m1) == ok

    # History made world_readable afterwards is readable by anyone, bob included.
    await hs.put_state(
        a, room, "m.room.history_visibility", {"history_visibility": "world_readable"}
    )
    m3 = await msg(hs, a, room, "m3")
    assert (await hs.request("GET", f"{V3}/rooms/{room}/event/{m3}", token=b))[0] == 200
    status, page = await hs.request("GET", f"{V3}/rooms/{room}/messages?dir=b", token=b)
    assert status == 200
    seen = [e["event_id"] for e in page["chunk"]]
    assert m3 in seen and m1 not in seen
    assert (await hs.request("GET", f"{V3}/rooms/{room}/event/{m1}", token=b))[0] == 404

    # Re-joining ends it: the old history is readable again and the room is synced.
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    assert await reads(hs, b, room, m1) == ok
    assert room in (await sync(hs, b))["rooms"]["join"]
