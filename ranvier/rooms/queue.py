"""One ordered input queue per room: one job at a time per room, rooms in parallel.

Theory of operation: :meth:`RoomQueues.run` appends a job (a coroutine function) to the
queue of its room and awaits its result. The first job of an idle room starts a worker
task for that room; the worker runs the room's jobs one after another in arrival order
and exits when the queue is empty, so idle rooms cost nothing. Jobs of different rooms
run concurrently on the event loop (no head-of-line blocking between rooms, as in
Dendrite's roomserver input). A job's exception goes to its caller only; the worker
carries on with the next job. Cancelling a caller that is still waiting does not
cancel its job once the job has started (the job may be in the middle of a commit).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Awaitable[Any]], "asyncio.Future[Any]"]


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


class RoomQueues:
    """Per-room FIFO execution of jobs."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    async def run(self, room_id: str, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` after every job queued before it for ``room_id``; return its result."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # If the caller is cancelled while waiting, nobody awaits ``fut``: mark its
        # exception as retrieved so asyncio does not log it as lost.
        fut.add_done_callback(_retrieve)
        queue = self._queues.get(room_id)
        if queue is None:
            queue = self._queues[room_id] = deque()
        queue.append((job, fut))
        if room_id not in self._workers:
            self._workers[room_id] = asyncio.get_running_loop().create_task(
                self._work(room_id, queue)
            )
        return await asyncio.shield(fut)

    async def _work(self, room_id: str, queue: deque[_Job]) -> None:
        try:
            while queue:
                job, fut = queue.popleft()
                try:
                    result = await job()
                except BaseException as exc:  # delivered to the caller, not raised here
                    if not fut.done():
                        fut.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        while queue:  # the worker is going away: fail what waits
                            _, waiting = queue.popleft()
                            if not waiting.done():
                                waiting.set_exception(asyncio.CancelledError())
                        raise
                else:
                    if not fut.done():
                        fut.set_result(result)
        finally:
            del self._workers[room_id]
            if not queue:
                self._queues.pop(room_id, None)

    @property
    def busy_rooms(self) -> int:
        """Rooms with queued or running jobs."""
        return len(self._workers)

    async def drain(self) -> None:
        """Wait until every queued job has run."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
