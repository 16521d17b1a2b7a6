"""Inbound transactions: ``PUT /_matrix/federation/v1/send/{txnId}``.

Spec: server-server-api "Transactions" (at most 50 PDUs and 100 EDUs), "PDUs",
"EDUs", "Server Access Control Lists (ACLs)" (per PDU, and per room for typing and
receipt EDUs); data/api/server-server/transactions.yaml.

Theory of operation
-------------------
:meth:`TransactionProcessor.process` answers one transaction of an authenticated
origin:

* the body must be an object whose ``origin`` (when present) is the authenticated
  server (403 ``M_FORBIDDEN`` otherwise), with a ``pdus`` list of at most
  :data:`MAX_PDUS` and an optional ``edus`` list of at most :data:`MAX_EDUS`
  (400 ``M_BAD_JSON`` otherwise);
* idempotency per ``(origin, txnId)``: the first answer is stored
  (``federation_inbound_txns``) and returned again for a repeat; a repeat arriving
  while the first is still being processed waits for it;
* PDUs are grouped by room; rooms are processed concurrently, the PDUs of one room
  in transaction order, each through :class:`~ranvier.rooms.remote.RemoteInput`.
  The answer maps each event id to ``{}`` when the PDU was processed -- accepted,
  soft failed, or stored as rejected by the auth rules: the result says how the PDU
  was *handled* and a rejection is a completed outcome (Synapse answers ``{}`` for
  it too) -- or to ``{"error": ...}`` when it could not be processed (dropped for
  its format, signatures or unobtainable prev events, ACL-denied, an internal error,
  a room this server is not in, or a room stored with a version this server does not
  implement -- "Room Versions"). A PDU failing never fails the request;
* EDUs are handed to the handler registered for their ``edu_type``
  (:meth:`EduRegistry.register_edu_handler`); unknown types are logged and
  ignored. Typing EDUs of, and receipts for, rooms whose ACL denies the origin are
  dropped first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import UnknownRoomVersion, get_room_version
from ranvier.db import Database
from ranvier.federation.metrics import RejectHook, ignore_rejection
from ranvier.federation.room_data import RoomData
from ranvier.http.types import MatrixError
from ranvier.rooms.remote import PduDropped, RemoteInput

logger = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100

EduHandler = Callable[[str, JsonDict], Awaitable[None]]
"""``await handler(origin, content)`` for one EDU."""


class EduRegistry:
    """EDU handlers by ``edu_type``."""

    def __init__(self) -> None:
        self._handlers: dict[str, EduHandler] = {}
        self.ignored: dict[str, int] = {}
        """EDUs received with no handler, by type."""

    def register_edu_handler(self, edu_type: str, handler: EduHandler) -> None:
        """Route EDUs of ``edu_type`` to ``handler`` (replacing an earlier one)."""
        self._handlers[edu_type] = handler

    def has_handler(self, edu_type: str) -> bool:
        """Whether a handler is registered for ``edu_type``."""
        return edu_type in self._handlers

    async def dispatch(self, origin: str, edu_type: str, content: JsonDict) -> None:
        """Run the handler of ``edu_type`` (errors are logged, never raised)."""
        handler = self._handlers.get(edu_type)
        if handler is None:
            self.ignored[edu_type] = self.ignored.get(edu_type, 0) + 1
            logger.debug("no handler for EDU %s from %s", edu_type, origin)
            return
        try:
            await handler(origin, content)
        except Exception:
            logger.exception("EDU handler for %s failed (from %s)", edu_type, origin)


def _pdu_event_id(pdu: Any, room_version_id: str | None) -> str:
    """The id to report a PDU's result under: computed with its room's version, or
    (rooms we do not know) its ``event_id`` field or a hash under room version 12."""
    if isinstance(pdu, dict):
        try:
            if room_version_id is not None:
                return compute_event_id(pdu, get_room_version(room_version_id))
            if isinstance(pdu.get("event_id"), str):
                return str(pdu["event_id"])
            return compute_event_id(pdu, get_room_version("12"))
        except (KeyError, TypeError, ValueError):
            pass
    return "$unknown"


class TransactionProcessor:
    """Processes inbound transactions (see the module docstring)."""

    def __init__(
        self, db: Database, remote: RemoteInput, room_data: RoomData, edus: EduRegistry
    ) -> None:
        self.db = db
        self.remote = remote
        self.room_data = room_data
        self.edus = edus
        self._inflight: dict[tuple[str, str], asyncio.Future[JsonDict]] = {}
        # Federation metrics (ranvier.federation.metrics): refusals by reason, PDU
        # outcomes, EDUs by type, processed transactions. No-ops unless attached.
        self.on_reject: RejectHook = ignore_rejection
        self.on_pdu: Callable[[str], None] = ignore_rejection
        self.on_edu: Callable[[str, bool], None] = lambda edu_type, handled: None
        self.on_transaction: Callable[[], None] = lambda: None

    async def process(self, origin: str, txn_id: str, body: Any) -> JsonDict:
        """Answer one transaction; raises MatrixError for a malformed one."""
        if not isinstance(body, dict):
            self.on_reject("malformed_transaction")
            raise MatrixError(400, "M_BAD_JSON", "Transaction must be an object")
        claimed = body.get("origin")
        if claimed is not None and claimed != origin:
            self.on_reject("origin_mismatch")
            raise MatrixError(403, "M_FORBIDDEN", "origin does not match the signing server")
        pdus = body.get("pdus")
        edus = body.get("edus", [])
        if not isinstance(pdus, list) or not isinstance(edus, list):
            self.on_reject("malformed_transaction")
            raise MatrixError(400, "M_BAD_JSON", "pdus and edus must be lists")
        if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
            self.on_reject("oversized_transaction")
            raise MatrixError(
                400, "M_BAD_JSON", f"At most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs per transaction"
            )
        key = (origin, txn_id)
        waiting = self._inflight.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        row = await self.db.fetchone(
            "SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2",
            origin,
            txn_id,
        )
        if row is not None:
            answer: JsonDict = orjson.loads(str(row[0]))
            return answer
        fut: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            answer = await self._run(origin, pdus, edus)
            self.on_transaction()
            await self.db.execute(
                "INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                origin,
                txn_id,
                orjson.dumps(answer).decode(),
                int(time.time() * 1000),
            )
            fut.set_result(answer)
            return answer
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: a waiting repeat re-raises it itself
            raise
        finally:
            del self._inflight[key]

    async def _run(self, origin: str, pdus: list[Any], edus: list[Any]) -> JsonDict:
        results: dict[str, JsonDict] = {}
        by_room: dict[str, list[Any]] = {}
        for pdu in pdus:
            room_id = pdu.get("room_id") if isinstance(pdu, dict) else None
            if not isinstance(room_id, str):
                results[_pdu_event_id(pdu, None)] = {"error": "PDU has no room_id"}
                self.on_reject("bad_format")
                self.on_pdu("dropped")
                continue
            by_room.setdefault(room_id, []).append(pdu)

        async def room_job(room_id: str, room_pdus: list[Any]) -> None:
            try:
                room = await self.remote.events.get_room(room_id)
            except UnknownRoomVersion as exc:
                self._unknown_version(room_pdus, exc.identifier, results)
                return
            rv = room.room_version.identifier if room is not None else None
            denied = room is not None and not await self.room_data.acl_allows(room, origin)
            for pdu in room_pdus:
                event_id = _pdu_event_id(pdu, rv)
                if denied:
                    results[event_id] = {"error": "Server is banned by the room's ACL"}
                    self.on_reject("acl_denied")
                    self.on_pdu("dropped")
                    continue
                try:
                    outcome = await self.remote.receive(origin, pdu)
                except PduDropped as exc:
                    results[event_id] = {"error": str(exc)}
                    self.on_reject(exc.reason)
                    self.on_pdu("dropped")
                    continue
                except Exception as exc:
                    logger.exception("processing PDU %s from %s failed", event_id, origin)
                    results[event_id] = {"error": f"internal error: {exc!r}"}
                    self.on_pdu("error")
                    continue
                self.on_pdu(outcome.status)
                if outcome.redacted:
                    self.on_reject("bad_content_hash")
                if outcome.status == "rejected":
                    self.on_reject("auth_failed")
                elif outcome.status == "soft_failed":
                    self.on_reject("soft_failed")
                # Processed, even if rejected: no "error" (transactions.yaml "PDU
                # Processing Result": without an error the PDU was handled).
                results[outcome.event_id] = {}

        await asyncio.gather(*(room_job(r, p) for r, p in by_room.items()))
        for edu in edus:
            await self._edu(origin, edu)
        return {"pdus": results}

    def _unknown_version(self, pdus: list[Any], version: str, results: dict[str, JsonDict]) -> None:
        """Drop the PDUs of a room stored with a version this server does not
        implement (it cannot check them), each counted as ``unknown_room_version``."""
        for pdu in pdus:
            results[_pdu_event_id(pdu, None)] = {
                "error": f"this server does not support room version {version!r}"
            }
            self.on_reject("unknown_room_version")
            self.on_pdu("dropped")

    async def _edu(self, origin: str, edu: Any) -> None:
        if not isinstance(edu, dict):
            return
        edu_type, content = edu.get("edu_type"), edu.get("content")
        if not isinstance(edu_type, str) or not isinstance(content, dict):
            return
        self.on_edu(edu_type, self.edus.has_handler(edu_type))
        if edu_type == "m.typing":
            if not await self._room_allows(content.get("room_id"), origin):
                return
        elif edu_type == "m.receipt":
            kept = {r: v for r, v in content.items() if await self._room_allows(r, origin)}
            if not kept:
                return
            content = kept
        await self.edus.dispatch(origin, edu_type, content)

    async def _room_allows(self, room_id: Any, origin: str) -> bool:
        if not isinstance(room_id, str):
            return False
        try:
            room = await self.remote.events.get_room(room_id)
        except UnknownRoomVersion:
            return False
        return room is not None and await self.room_data.acl_allows(room, origin)
