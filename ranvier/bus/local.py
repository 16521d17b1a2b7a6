"""The in-process bus: one asyncio queue and one delivery task per subscriber.

Theory of operation: :meth:`LocalBus.publish` checks the message's type against the
topic and appends it to the queue of every subscriber of that topic; it never waits
for a handler, so the room input pipeline is not slowed by its consumers. Each
subscriber's task takes messages in order and awaits its handler, so one handler call
runs at a time per subscriber. A handler that raises is logged and the next message is
delivered. :meth:`LocalBus.close` waits until every queue is drained, then stops the
tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ranvier.bus import Topic

logger = logging.getLogger(__name__)


class _LocalSubscription:
    def __init__(self, bus: LocalBus, name: str, handler: Callable[[Any], Awaitable[None]]) -> None:
        self.bus = bus
        self.name = name
        self.handler = handler
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.handler(message)
            except Exception:
                logger.exception("bus handler for %s failed", self.name)
            finally:
                self.queue.task_done()

    def cancel(self) -> None:
        subs = self.bus._subs.get(self.name, [])
        if self in subs:
            subs.remove(self)
        if self.task is not None:
            self.task.cancel()


class LocalBus:
    """A :class:`ranvier.bus.Bus` inside one process."""

    def __init__(self) -> None:
        self._subs: dict[str, list[_LocalSubscription]] = {}
        self.published = 0

    def subscribe(
        self, topic: Topic[Any], handler: Callable[[Any], Awaitable[None]]
    ) -> _LocalSubscription:
        """See :meth:`ranvier.bus.Bus.subscribe`."""
        sub = _LocalSubscription(self, topic.name, handler)
        self._subs.setdefault(topic.name, []).append(sub)
        return sub

    async def publish(self, topic: Topic[Any], message: Any) -> None:
        """See :meth:`ranvier.bus.Bus.publish`."""
        if not isinstance(message, topic.message_type):
            raise TypeError(f"{topic.name} carries {topic.message_type.__name__}")
        self.published += 1
        for sub in self._subs.get(topic.name, ()):
            sub.start()
            sub.queue.put_nowait(message)

    async def close(self) -> None:
        """See :meth:`ranvier.bus.Bus.close`."""
        subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            if sub.task is not None:
                await sub.queue.join()
        for sub in subs:
            sub.cancel()
        self._subs.clear()
