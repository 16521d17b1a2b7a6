"""The outbound federation sender: one persisted queue and one task per destination.

Spec: server-server-api "Transactions" (at most 50 PDUs and 100 EDUs per
``PUT /send/{txnId}``), "PDUs" (every server in the room receives the room's events),
"EDUs".

Theory of operation
-------------------
*Queueing.* The sender subscribes to the room output topic
(:data:`~ranvier.rooms.outputs.ROOM_EVENTS`). Each event sent by a local user is
queued for every other server with a joined member in the room's current state (and,
for a leave or ban, the server of its target when that user was joined, invited or
knocking until then, so a kicked, banned or uninvited remote user hears of it). An
invite is not pushed to the invitee's server: it reached it through ``/invite``
("Inviting to a room"), and a server not in the room has no use for the room's
events (Synapse sends an event to the servers in the room before it, plus the
target of a rescinded invite). The servers with joined members are cached per room
with the id of the current state snapshot they were read at: the membership index
changes only with the room's current state (in the same transaction), so an unchanged
snapshot id means an unchanged answer. (Out-of-room memberships, which change no
snapshot, are about local users only, and this server is never a destination.)
:meth:`FederationSender.queue_edu` queues EDUs (typing, receipts, presence) for given
destinations. A queued item is a row of ``federation_outbox``
(destination, kind, JSON) written before anything is sent, so nothing is lost across
a restart: :meth:`FederationSender.start` starts a task for every destination that
still has rows.

*Sending.* A destination's task takes the oldest rows -- up to :data:`MAX_PDUS` PDUs
and :data:`MAX_EDUS` EDUs -- and sends them as one transaction whose id is made of
the first and last queue positions in it (positions are never reused, so a retry of
the same rows reuses the same id and the receiver's idempotency applies). On a 2xx
answer the rows are deleted and the next batch goes at once; per-PDU errors in the
answer are the receiver's verdict on the events and are not retried. On failure the
task waits ``backoff_base_s * 2**(failures-1)`` seconds (capped at
``backoff_max_s``); after ``send_max_retries`` consecutive failures it stops trying
until :meth:`FederationSender.wake` is called -- which the inbound X-Matrix
authenticator does whenever that server makes a request to us (it is alive), as it
does for a new item. The queue stays in the database meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from ranvier.bus import Bus, Subscription
from ranvier.core.events import JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.db import Database
from ranvier.federation.client import FederationClient, FederationError, path_segment
from ranvier.rooms.event_store import EventStore, RoomInfo
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted

logger = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
SEND_PATH = "/_matrix/federation/v1/send/"


def _server(user_id: str) -> str | None:
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


class _Destination:
    """The state of one destination's task."""

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()
        self.failures = 0
        self.task: asyncio.Task[None] | None = None


class FederationSender:
    """Persisted per-destination queues of PDUs and EDUs (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        client: FederationClient,
        events: EventStore,
        server_name: str,
        *,
        max_retries: int = 16,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 3600.0,
    ) -> None:
        self.db = db
        self.client = client
        self.events = events
        self.server_name = server_name
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._dests: dict[str, _Destination] = {}
        self._joined: dict[int, tuple[int, frozenset[str]]] = {}
        """Room NID -> (current snapshot id, servers with joined members then)."""
        self._subscription: Subscription | None = None
        self._stopping = False
        self.sent_transactions = 0
        """Transactions accepted by their destination (for tests and metrics)."""
        self.on_sent: Callable[[], None] = lambda: None
        self.acl_allows: Callable[[RoomInfo, str], Awaitable[bool]] | None = None
        """The room's server ACL (``m.room.server_acl``): room events are not sent to the
        servers it denies (server-server-api "Server Access Control Lists (ACLs)")."""
        """Called for every transaction a destination accepted (federation metrics)."""

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, bus: Bus) -> None:
        """Subscribe to room events and resume the queues left in the database."""
        self._stopping = False
        self._subscription = bus.subscribe(ROOM_EVENTS, self._on_room_event)
        rows = await self.db.fetchall("SELECT DISTINCT destination FROM federation_outbox")
        for (destination,) in rows:
            self._kick(str(destination))

    async def stop(self) -> None:
        """Stop every task (queued rows stay in the database)."""
        self._stopping = True
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        tasks = [d.task for d in self._dests.values() if d.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dests.clear()

    # ---- queueing -----------------------------------------------------------------------

    async def _on_room_event(self, message: RoomEventPersisted) -> None:
        if _server(message.sender) != self.server_name:
            return
        room = await self.events.get_room(message.room_id)
        if room is None:
            return
        destinations = set(await self._joined_servers(room.nid))
        if message.membership in ("leave", "ban") and message.state_key is not None:
            target = _server(message.state_key)
            if target not in (None, self.server_name) and await self._was_present(message):
                destinations.add(target)
        destinations.discard(self.server_name)
        if destinations and self.acl_allows is not None:
            destinations = {d for d in destinations if await self.acl_allows(room, d)}
        pdu = dict(message.pdu)
        pdu.pop("unsigned", None)
        await self.queue_pdu(destinations, pdu)

    async def _was_present(self, message: RoomEventPersisted) -> bool:
        """Whether the target of a leave or ban was joined, invited or knocking before
        it: its membership until then is among the event's auth events (server-server-api
        "Auth events selection": the target's current membership)."""
        stored = await self.events.get_by_id(message.event_id)
        for auth_id in stored.event.auth_event_ids if stored is not None else ():
            found = await self.events.get_by_id(auth_id)
            if (
                found is not None
                and found.event.type == "m.room.member"
                and found.event.state_key == message.state_key
            ):
                return found.event.membership in ("join", "invite", "knock")
        return False

    async def _joined_servers(self, room_nid: int) -> frozenset[str]:
        """Servers with a joined member in the room (cached: module docstring)."""
        snapshot_nid = await self.events.current_snapshot_nid(room_nid)
        cached = self._joined.get(room_nid)
        if cached is not None and cached[0] == snapshot_nid and snapshot_nid != 0:
            return cached[1]
        servers = frozenset(
            s
            for user_id, membership, _ in await self.events.members(room_nid)
            if membership == "join" and (s := _server(user_id)) is not None
        )
        if await self.events.current_snapshot_nid(room_nid) == snapshot_nid:
            self._joined[room_nid] = (snapshot_nid, servers)
        return servers

    async def _queue(self, destinations: Iterable[str], kind: str, item: JsonDict) -> None:
        targets = sorted({d for d in destinations if d != self.server_name})
        if not targets:
            return
        text = orjson.dumps(item).decode()
        await self.db.executemany(
            "INSERT INTO federation_outbox (destination, kind, json) VALUES ($1, $2, $3)",
            [(d, kind, text) for d in targets],
        )
        for d in targets:
            self._kick(d)

    async def queue_pdu(self, destinations: Iterable[str], pdu: JsonDict) -> None:
        """Queue a PDU for ``destinations`` (this server is skipped)."""
        await self._queue(destinations, "pdu", pdu)

    async def queue_edu(self, destinations: Iterable[str], edu: JsonDict) -> None:
        """Queue an EDU (``{"edu_type": ..., "content": ...}``) for ``destinations``."""
        await self._queue(destinations, "edu", edu)

    async def pending(self, destination: str) -> int:
        """Rows queued for ``destination``."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM federation_outbox WHERE destination = $1", destination
        )
        return 0 if row is None else int(row[0])

    # ---- sending ------------------------------------------------------------------------

    def wake(self, destination: str) -> None:
        """``destination`` is alive: forget its failures and retry its queue now."""
        dest = self._dests.get(destination)
        if dest is not None:
            dest.failures = 0
            dest.wakeup.set()

    def _kick(self, destination: str) -> None:
        if self._stopping:
            return
        dest = self._dests.get(destination)
        if dest is None:
            dest = self._dests[destination] = _Destination()
        if dest.task is None or dest.task.done():
            dest.task = asyncio.get_running_loop().create_task(self._run(destination, dest))
        elif dest.failures == 0:
            dest.wakeup.set()

    async def _batch(self, destination: str) -> tuple[list[int], list[Any], list[Any]]:
        pdu_rows = await self.db.fetchall(
            "SELECT position, json FROM federation_outbox WHERE destination = $1"
            " AND kind = 'pdu' ORDER BY position LIMIT $2",
            destination,
            MAX_PDUS,
        )
        edu_rows = await self.db.fetchall(
            "SELECT position, json FROM federation_outbox WHERE destination = $1"
            " AND kind = 'edu' ORDER BY position LIMIT $2",
            destination,
            MAX_EDUS,
        )
        positions = [int(r[0]) for r in pdu_rows] + [int(r[0]) for r in edu_rows]
        return (
            positions,
            [orjson.loads(str(r[1])) for r in pdu_rows],
            [orjson.loads(str(r[1])) for r in edu_rows],
        )

    async def _run(self, destination: str, dest: _Destination) -> None:
        while not self._stopping:
            dest.wakeup.clear()
            positions, pdus, edus = await self._batch(destination)
            if not positions:
                await dest.wakeup.wait()
                continue
            txn_id = f"{min(positions)}-{max(positions)}"
            body = {
                "origin": self.server_name,
                "origin_server_ts": int(time.time() * 1000),
                "pdus": pdus,
                "edus": edus,
            }
            try:
                answer = await self.client.put_json(
                    destination, SEND_PATH + path_segment(txn_id), body
                )
            except FederationError as exc:
                dest.failures += 1
                logger.info(
                    "transaction %s to %s failed (%d): %s", txn_id, destination, dest.failures, exc
                )
                await self._back_off(dest)
                continue
            self._log_errors(destination, answer)
            marks = ", ".join(f"${i + 2}" for i in range(len(positions)))
            await self.db.execute(
                f"DELETE FROM federation_outbox WHERE destination = $1 AND position IN ({marks})",
                destination,
                *positions,
            )
            dest.failures = 0
            self.sent_transactions += 1
            self.on_sent()

    async def _back_off(self, dest: _Destination) -> None:
        if dest.failures > self.max_retries:
            await dest.wakeup.wait()  # parked until the destination contacts us
            return
        delay = min(self.backoff_base_s * 2 ** (dest.failures - 1), self.backoff_max_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(dest.wakeup.wait(), delay)

    @staticmethod
    def _log_errors(destination: str, answer: Any) -> None:
        results = answer.get("pdus") if isinstance(answer, dict) else None
        if isinstance(results, dict):
            for event_id, result in results.items():
                if isinstance(result, dict) and "error" in result:
                    logger.info("%s refused %s: %s", destination, event_id, result["error"])
