"""Sending notifications to HTTP push gateways (push-gateway-api
``POST /_matrix/push/v1/notify``, push_notifier.yaml).

Theory of operation
-------------------
:meth:`PushGateway.enqueue` puts a :class:`PushItem` on the queue of its pusher
(``user, app_id, pushkey``); one task per pusher with work sends its items in order,
so a slow or dead gateway delays only its own pushers. The request body is
``{"notification": {...}}`` with the event fields the processor filled in (only
``event_id``, ``room_id``, ``counts`` and ``prio`` when the pusher's ``data.format`` is
``event_id_only``) and ``devices``: this pusher's ``app_id``, ``pushkey``,
``pushkey_ts``, ``data`` without ``url``, and the ``tweaks`` of the matching rule's
actions. ``prio`` is ``high`` when the actions set a sound or a highlight, else ``low``.

A connection error, a timeout, 429 or a 5xx is retried after ``backoff_s``, doubling
up to ``max_backoff_s``, at most ``max_attempts`` times; other statuses drop the item.
Pushkeys the gateway lists in ``rejected`` have their pushers deleted ("Homeservers
must cease sending notification requests for these pushkeys and remove the
associated pushers"), and the pusher's remaining items are dropped. A pusher holds at
most ``max_queued`` items: while its gateway is down the oldest are dropped, so an
outage costs bounded memory (a later notification carries the current counts anyway).
The aiohttp client session is created on first use and closed by
:meth:`PushGateway.close`; certificates are checked unless
``client_api.push_disable_tls_validation`` is set (test suites whose gateway has a
self-signed certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.core.push_eval import tweaks
from ranvier.push.pushers import Pusher, PusherStore

if TYPE_CHECKING:  # aiohttp is imported on first push: an idle server does not load it
    import aiohttp

logger = logging.getLogger(__name__)

EVENT_ID_ONLY = "event_id_only"
_ID_ONLY_FIELDS = ("event_id", "room_id", "counts")


@dataclass(frozen=True, slots=True)
class PushItem:
    """One notification for one pusher."""

    pusher: Pusher
    notification: JsonDict
    actions: list[Any]


PusherKey = tuple[str, str, str]


def request_body(item: PushItem) -> JsonDict:
    """The ``/notify`` request body for ``item`` (module docstring)."""
    pusher = item.pusher
    data = {k: v for k, v in pusher.data.items() if k != "url"}
    set_tweaks = tweaks(item.actions)
    device: JsonDict = {
        "app_id": pusher.app_id,
        "pushkey": pusher.pushkey,
        "pushkey_ts": pusher.pushkey_ts,
        "data": data,
        "tweaks": set_tweaks,
    }
    source = item.notification
    if pusher.data.get("format") == EVENT_ID_ONLY:
        notification = {k: source[k] for k in _ID_ONLY_FIELDS if k in source}
    else:
        notification = dict(source)
    if "event_id" in source:
        loud = set_tweaks.get("highlight") is True or "sound" in set_tweaks
        notification["prio"] = "high" if loud else "low"
    notification["devices"] = [device]
    return {"notification": notification}


class PushGateway:
    """Per-pusher queues POSTing to push gateways (module docstring)."""

    def __init__(
        self,
        pushers: PusherStore,
        *,
        timeout_s: float = 10.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        max_attempts: int = 8,
        verify_tls: bool = True,
        max_queued: int = 100,
    ) -> None:
        self.pushers = pushers
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_attempts = max_attempts
        self.verify_tls = verify_tls
        self.max_queued = max_queued
        self.dropped = 0
        self._queues: dict[PusherKey, deque[PushItem]] = {}
        self._tasks: dict[PusherKey, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0

    def enqueue(self, item: PushItem) -> None:
        """Queue ``item`` and make sure its pusher's task runs."""
        p = item.pusher
        key = (p.user_id, p.app_id, p.pushkey)
        queue = self._queues.setdefault(key, deque())
        if len(queue) >= self.max_queued:
            queue.popleft()  # the gateway is not keeping up: the oldest goes
            self.dropped += 1
        queue.append(item)
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.get_running_loop().create_task(self._drain(key))

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(ssl=self.verify_tls),
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def _drain(self, key: PusherKey) -> None:
        queue = self._queues.get(key)
        while queue:
            item = queue.popleft()
            try:
                rejected = await self._send(item)
            except Exception:
                logger.exception("push: sending to %s failed", item.pusher.data.get("url"))
                rejected = False
            if rejected:
                queue.clear()
        self._queues.pop(key, None)
        self._tasks.pop(key, None)

    async def _send(self, item: PushItem) -> bool:
        """POST ``item`` with retries; True when the gateway rejected its pushkey."""
        url = str(item.pusher.data.get("url", ""))
        body = request_body(item)
        delay = self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            status, answer = await self._post(url, body)
            if status is not None and 200 <= status < 300:
                self.sent += 1
                return await self._handle_rejected(item.pusher, answer)
            if status is not None and status != 429 and status < 500:
                logger.warning("push: %s answered %d; notification dropped", url, status)
                self.failed += 1
                return False
            if attempt < self.max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        logger.warning("push: giving up on %s after %d attempts", url, self.max_attempts)
        self.failed += 1
        return False

    async def _post(self, url: str, body: JsonDict) -> tuple[int | None, Any]:
        import aiohttp

        try:
            async with self._client().post(url, json=body) as resp:
                raw = await resp.read()
                try:
                    answer = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    answer = {}
                return resp.status, answer
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.info("push: %s unreachable: %s", url, exc)
            return None, None

    async def _handle_rejected(self, pusher: Pusher, answer: Any) -> bool:
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        if not isinstance(rejected, list) or pusher.pushkey not in rejected:
            return False
        logger.info("push: gateway rejected pushkey of %s (%s)", pusher.user_id, pusher.app_id)
        await self.pushers.delete(pusher.user_id, pusher.app_id, pusher.pushkey)
        return True

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every queue is empty (tests, shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(list(self._tasks.values()), timeout=deadline - loop.time())

    async def close(self) -> None:
        """Stop sending and close the HTTP client."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._queues.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
