"""``m.typing`` EDUs: typing notifications to and from other servers.

Spec: server-server-api "Typing Notifications" and its ``m.typing`` EDU
(``{room_id, user_id, typing}``); client-server-api "Typing Notifications".

Theory of operation
-------------------
*Inbound* (:meth:`TypingEdus.on_edu`): the user must belong to the sending server and
be joined to the room (the spec's two checks); then the user starts or stops typing in
the local :class:`~ranvier.ephemeral.typing.TypingState`, so local clients see it in
``/sync``. The EDU carries no timeout: a remote "started typing" lasts
:data:`REMOTE_TIMEOUT_MS` unless renewed or stopped (the sending server renews it
while its user keeps typing). Server ACLs were applied before (the transaction
processor drops typing EDUs of rooms whose ACL denies the origin).

*Outbound*: the producer listens to the typing stream. Its listener runs inline and
only hands the changed room ids to a :class:`~.worker.SerialWorker`; the job compares
the room's local typers now with those last announced and queues one EDU per user who
started or stopped, for every other server with a joined member. A local user still
typing is announced again every :data:`RENEW_MS` (a receiver forgets a typer after
its own timeout, 60 s in the common implementations), also by the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.ephemeral.typing import TypingState
from ranvier.federation.edus.rooms import RoomMembers, server_of
from ranvier.federation.edus.worker import SerialWorker
from ranvier.federation.sender import FederationSender

EDU_TYPE = "m.typing"
REMOTE_TIMEOUT_MS = 60_000
"""How long a remote user's "started typing" lasts without renewal."""
RENEW_MS = 30_000
"""How often a local user still typing is announced again."""


class TypingEdus:
    """Inbound handler and outbound producer of ``m.typing`` (module docstring)."""

    def __init__(
        self,
        typing: TypingState,
        members: RoomMembers,
        sender: FederationSender,
        *,
        renew_ms: int = RENEW_MS,
    ) -> None:
        self.typing = typing
        self.members = members
        self.sender = sender
        self.renew_ms = renew_ms
        self.worker = SerialWorker("typing EDUs")
        self._announced: dict[str, dict[str, float]] = {}
        """room -> local user -> when last announced as typing (monotonic seconds)."""
        self._renewer: asyncio.Task[None] | None = None
        self.received = 0
        """Inbound EDUs applied (tests)."""

    # ---- inbound ------------------------------------------------------------------------

    async def on_edu(self, origin: str, content: JsonDict) -> None:
        """Handle one inbound ``m.typing`` EDU from ``origin``."""
        room_id, user_id, typing = (
            content.get("room_id"),
            content.get("user_id"),
            content.get("typing"),
        )
        if not isinstance(room_id, str) or not isinstance(user_id, str):
            return
        if not isinstance(typing, bool) or server_of(user_id) != origin:
            return
        if not await self.members.is_joined(room_id, user_id):
            return
        self.typing.set_typing(room_id, user_id, typing, REMOTE_TIMEOUT_MS if typing else None)
        self.received += 1

    # ---- outbound -----------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the typing stream and start the renewal timer."""
        self.typing.listeners.add(self._on_change)
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def stop(self) -> None:
        """Stop the renewal timer and the worker."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await self.worker.close()

    def _on_change(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        del position, user_ids
        rooms = list(room_ids)
        self.worker.submit(lambda: self._announce_changes(rooms))

    async def _announce_changes(self, room_ids: list[str]) -> None:
        now = time.monotonic()
        for room_id in room_ids:
            typers = {u for u in self.typing.typing_users(room_id) if self.members.is_local(u)}
            announced = self._announced.setdefault(room_id, {})
            started = sorted(typers - announced.keys())
            stopped = sorted(announced.keys() - typers)
            if not started and not stopped:
                continue
            for user_id in stopped:
                del announced[user_id]
            for user_id in started:
                announced[user_id] = now
            if not announced:
                del self._announced[room_id]
            servers = await self.members.remote_servers([room_id])
            for user_id, typing in [(u, True) for u in started] + [(u, False) for u in stopped]:
                await self.sender.queue_edu(servers, _edu(room_id, user_id, typing))

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_ms / 4000)
            self.worker.submit(self._renew)

    async def _renew(self) -> None:
        now = time.monotonic()
        for room_id, announced in list(self._announced.items()):
            due = [u for u, at in announced.items() if now - at >= self.renew_ms / 1000]
            if not due:
                continue
            still = set(self.typing.typing_users(room_id))
            servers = await self.members.remote_servers([room_id])
            for user_id in due:
                if user_id in still:
                    announced[user_id] = now
                    await self.sender.queue_edu(servers, _edu(room_id, user_id, True))


def _edu(room_id: str, user_id: str, typing: bool) -> dict[str, Any]:
    return {
        "edu_type": EDU_TYPE,
        "content": {"room_id": room_id, "user_id": user_id, "typing": typing},
    }
