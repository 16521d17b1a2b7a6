"""Typed messages between components.

How the package works: a :class:`Topic` names a stream of messages of one frozen
dataclass type. Producers call ``await bus.publish(topic, message)``; consumers call
``bus.subscribe(topic, handler)`` with ``async def handler(message)``. Each subscriber
receives every message of the topic published after it subscribed, in publish order,
one at a time; subscribers are independent (a slow one delays only itself).

:class:`Bus` is the Protocol components code against. :class:`LocalBus`
(:mod:`ranvier.bus.local`) delivers within one process; a NATS JetStream bus, where
several processes share the work, can implement the same Protocol later (topics are
named so they can map to JetStream subjects; messages are plain dataclasses of JSON
values so they can be serialised).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ranvier.bus.local import LocalBus

__all__ = ["Bus", "Handler", "LocalBus", "Subscription", "Topic"]

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Topic(Generic[M]):
    """A named stream of messages of type ``message_type``."""

    name: str
    message_type: type[M]


Handler = Callable[[M], Awaitable[None]]
"""``async def handler(message) -> None``."""


class Subscription(Protocol):
    """What :meth:`Bus.subscribe` returns."""

    def cancel(self) -> None:
        """Stop receiving messages (messages already queued are dropped)."""
        ...


class Bus(Protocol):
    """Publish/subscribe of typed messages (see the package docstring)."""

    def subscribe(self, topic: Topic[M], handler: Handler[M]) -> Subscription:
        """Call ``handler`` with every later message of ``topic``, in order."""
        ...

    async def publish(self, topic: Topic[M], message: M) -> None:
        """Hand ``message`` to every subscriber of ``topic`` (does not wait for them)."""
        ...

    async def close(self) -> None:
        """Deliver what is queued, then stop."""
        ...
