"""A serial background worker: outbound EDU producers hear of changes from
synchronous stream listeners (which must not block) and do the asynchronous part --
reading memberships, queueing EDUs -- here, in order, one job at a time.

A failing job is logged and the worker goes on; :meth:`SerialWorker.close` cancels
the task (jobs still waiting are dropped: EDUs are ephemeral, nothing is lost that
matters after a shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class SerialWorker:
    """Runs submitted jobs one after another on the running loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, job: Job) -> None:
        """Run ``job`` after the jobs already submitted (starting the task if needed)."""
        self._jobs.put_nowait(job)
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except Exception:
                logger.exception("%s job failed", self.name)
            finally:
                self._jobs.task_done()
                if self._jobs.empty():
                    self._idle.set()

    async def idle(self) -> None:
        """Wait until every submitted job has run (tests)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop the task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
