"""Room operations shared by the room scenarios (not a scenario itself).

All through the Client-Server API (spec client-server-api "Rooms", "Room membership", "Sending
events to a room", "Syncing"): create a room, join it, send ``m.room.message`` events with a
client transaction id, initial and incremental ``/sync``. Answers are checked for the fields
the spec requires (``room_id``, ``event_id``, ``next_batch``).

:func:`busy_room` keeps one public room per run with at least N messages, created on first
use and topped up later, so scenarios that need history share the setup cost.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from ..client import CLIENT, Account, BadResponse, JsonDict, q, require
from ..context import RunContext
from ..load import run_load

_txn = itertools.count()


async def create_room(
    ctx: RunContext, owner: Account, *, public: bool = True, name: str = "bench"
) -> str:
    """Create a room (``public_chat`` or ``private_chat`` preset) and return its id."""
    answer = await ctx.api.call(
        "POST",
        f"{CLIENT}/createRoom",
        body={"preset": "public_chat" if public else "private_chat", "name": name},
        token=owner.access_token,
    )
    room_id = require(answer, "room_id", str, "createRoom")
    if not room_id.startswith("!"):
        raise BadResponse(f"createRoom: {room_id!r} is not a room id")
    return room_id


async def join(ctx: RunContext, account: Account, room_id: str) -> None:
    """Join ``room_id`` via ``POST /join/{roomIdOrAlias}``."""
    answer = await ctx.api.call(
        "POST", f"{CLIENT}/join/{q(room_id)}", body={}, token=account.access_token
    )
    if require(answer, "room_id", str, "join") != room_id:
        raise BadResponse(f"join: answered {answer!r} for {room_id}")


async def send_text(ctx: RunContext, account: Account, room_id: str, body: str) -> str:
    """Send an ``m.text`` message and return its event id."""
    txn = f"bench{next(_txn)}"
    answer = await ctx.api.call(
        "PUT",
        f"{CLIENT}/rooms/{q(room_id)}/send/m.room.message/{txn}",
        body={"msgtype": "m.text", "body": body},
        token=account.access_token,
    )
    event_id = require(answer, "event_id", str, "send")
    if not event_id.startswith("$"):
        raise BadResponse(f"send: {event_id!r} is not an event id")
    return event_id


async def sync(
    ctx: RunContext,
    account: Account,
    *,
    since: str | None = None,
    timeout_ms: int = 0,
    limit: int | None = None,
    request_timeout: float = 120.0,
) -> JsonDict:
    """One ``GET /sync``; checks ``next_batch`` and returns the answer."""
    params = {"timeout": str(timeout_ms)}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["filter"] = json.dumps({"room": {"timeline": {"limit": limit}}})
    answer = await ctx.api.call(
        "GET",
        f"{CLIENT}/sync",
        params=params,
        token=account.access_token,
        timeout=request_timeout,
    )
    require(answer, "next_batch", str, "sync")
    return answer


def timeline_event_ids(answer: JsonDict, room_id: str) -> list[str]:
    """The event ids in the joined room's timeline of a sync answer."""
    rooms: Any = answer.get("rooms", {})
    room = rooms.get("join", {}).get(room_id) if isinstance(rooms, dict) else None
    if not isinstance(room, dict):
        return []
    events = room.get("timeline", {}).get("events", [])
    return [e["event_id"] for e in events if isinstance(e, dict) and "event_id" in e]


async def room_with_members(ctx: RunContext, key: str, members: int) -> tuple[str, list[Account]]:
    """A public room (cached under ``key``) that ``members`` accounts have joined."""
    cached = ctx.shared.get(key)
    owner = (await ctx.accounts(1))[0]
    if cached is None:
        cached = (await create_room(ctx, owner, name=key), [owner])
        ctx.shared[key] = cached
    room_id, joined = cached
    accounts = await ctx.accounts(members)
    for account in accounts[len(joined) :]:
        await join(ctx, account, room_id)
        joined.append(account)
    return room_id, accounts


async def busy_room(ctx: RunContext, messages: int) -> tuple[str, list[Account]]:
    """A room of 10 members holding at least ``messages`` messages (shared per run)."""
    room_id, senders = await room_with_members(ctx, "busy_room", 10)
    have: int = ctx.shared.get("busy_room_messages", 0)
    missing = messages - have
    if missing > 0:

        async def op(i: int) -> None:
            await send_text(ctx, senders[i % len(senders)], room_id, f"history message {i}")

        done = await run_load(op, concurrency=10, max_ops=missing, max_seconds=600)
        ctx.shared["busy_room_messages"] = have + done.ops
        if done.ops < missing:
            raise RuntimeError(f"only {done.ops} of {missing} history messages sent in 600 s")
    return room_id, senders
