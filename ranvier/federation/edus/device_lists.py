"""``m.device_list_update`` and ``m.signing_key_update`` EDUs: remote users' devices and
cross-signing keys, kept for end-to-end encryption.

Spec: server-server-api "Device Management" (the ``m.device_list_update`` EDU:
``user_id``, ``device_id``, ``stream_id``, ``prev_id``, ``deleted``,
``device_display_name``, ``keys``; "If a server receives an EDU which refers to a
``prev_id`` it does not recognise, it must resynchronise its list"), "End-to-End
Encryption" (the ``m.signing_key_update`` EDU: ``user_id``, ``master_key``,
``self_signing_key``); ``GET /user/devices/{userId}``.

Theory of operation
-------------------
Updates of a user who belongs to the sending server are stored by
:class:`~.device_list_store.RemoteDeviceListStore` (one row per device, newer
``stream_id`` wins). The ``prev_id`` list tells what the update builds on: when this
server has applied an update for the user before and its latest ``stream_id`` is older
than every ``prev_id`` and not among them, an update was missed; and when it knows
nothing of the user yet (or forgot: :meth:`~.device_list_store.RemoteDeviceListStore.mark_stale`
after no local user shared a room with them any more), one update is not the whole
list (Synapse does the same). Then the update is
still applied, the user is marked for resynchronisation and a background task asks the
origin for the whole list (``GET /user/devices/{userId}``), replacing what is stored
with it and its ``stream_id``. At most one resynchronisation per user runs at a time.

Every applied change is told to the :attr:`DeviceListEdus.listeners` as ``(user_id,
device_id)`` pairs (``""`` for the cross-signing keys and a whole resynchronised
list): the end-to-end encryption component records them in its device list stream,
so local users' syncs report the remote user in ``device_lists.changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.federation.client import FederationClient, FederationError, path_segment
from ranvier.federation.edus.device_list_store import RemoteDevice, RemoteDeviceListStore
from ranvier.federation.edus.rooms import server_of

logger = logging.getLogger(__name__)

DEVICE_LIST_UPDATE = "m.device_list_update"
SIGNING_KEY_UPDATE = "m.signing_key_update"


ChangeListener = Callable[[list[tuple[str, str]]], Awaitable[None]]
"""``await listener([(user_id, device_id), ...])`` after a remote change was stored."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    """``value`` if it is a string without U+0000 (which PostgreSQL's ``TEXT`` cannot
    store: a device id holding it is dropped and a display name forgotten, alike on
    both databases)."""
    return value if isinstance(value, str) and "\x00" not in value else None


class DeviceListEdus:
    """Inbound handlers of device list and signing key updates (module docstring)."""

    def __init__(self, store: RemoteDeviceListStore, client: FederationClient) -> None:
        self.store = store
        self.client = client
        self._resyncing: dict[str, asyncio.Task[bool]] = {}
        self.resyncs = 0
        """Completed resynchronisations (tests)."""
        self.listeners: list[ChangeListener] = []

    async def _tell(self, changes: list[tuple[str, str]]) -> None:
        for listener in list(self.listeners):
            await listener(changes)

    async def on_device_list_update(self, origin: str, content: JsonDict) -> None:
        """Handle one ``m.device_list_update`` from ``origin``."""
        user_id, device_id = content.get("user_id"), _text(content.get("device_id"))
        stream_id = _int(content.get("stream_id"))
        if not isinstance(user_id, str) or device_id is None or stream_id is None:
            return
        if server_of(user_id) != origin:
            return
        raw_prev = content.get("prev_id", [])
        prev = [p for p in raw_prev if _int(p) is not None] if isinstance(raw_prev, list) else []
        keys = content.get("keys")
        name = content.get("device_display_name")
        state = await self.store.stream_state(user_id)
        missed = state is None or (bool(prev) and state[0] not in prev and state[0] < max(prev))
        applied = await self.store.apply_update(
            user_id,
            device_id,
            stream_id,
            _text(name),
            keys if isinstance(keys, dict) else None,
            content.get("deleted") is True,
            needs_resync=missed,
        )
        if applied:
            await self._tell([(user_id, device_id)])
        if missed:
            self._resync_later(origin, user_id)

    async def on_signing_key_update(self, origin: str, content: JsonDict) -> None:
        """Handle one ``m.signing_key_update`` from ``origin``."""
        user_id = content.get("user_id")
        if not isinstance(user_id, str) or server_of(user_id) != origin:
            return
        stored = False
        for field, key_type in (("master_key", "master"), ("self_signing_key", "self_signing")):
            key = content.get(field)
            if isinstance(key, dict) and key.get("user_id") == user_id:
                await self.store.put_cross_signing_key(user_id, key_type, key)
                stored = True
        if stored:
            await self._tell([(user_id, "")])

    def _resync_later(self, origin: str, user_id: str) -> None:
        running = self._resyncing.get(user_id)
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self.resync(origin, user_id))
        self._resyncing[user_id] = task
        task.add_done_callback(lambda _: self._resyncing.pop(user_id, None))

    async def resync_shared(self, origin: str, user_id: str) -> bool:
        """:meth:`resync`, joining the one already running for ``user_id`` if any (a key
        query arriving while an update's resynchronisation is in flight waits for it
        instead of asking again)."""
        running = self._resyncing.get(user_id)
        if running is None or running.done():
            self._resync_later(origin, user_id)
            running = self._resyncing[user_id]
        return await asyncio.shield(running)

    async def resync(self, origin: str, user_id: str) -> bool:
        """Fetch ``user_id``'s whole device list from ``origin`` and store it."""
        try:
            answer = await self.client.get_json(
                origin, f"/_matrix/federation/v1/user/devices/{path_segment(user_id)}"
            )
        except (FederationError, OSError, TimeoutError) as exc:
            logger.info("device list resync of %s from %s failed: %r", user_id, origin, exc)
            return False
        stream_id = _int(answer.get("stream_id")) if isinstance(answer, dict) else None
        devices = answer.get("devices") if isinstance(answer, dict) else None
        if stream_id is None or not isinstance(devices, list):
            return False
        found: list[RemoteDevice] = []
        for d in devices:
            if not isinstance(d, dict) or _text(d.get("device_id")) is None:
                continue
            name, keys = d.get("device_display_name"), d.get("keys")
            found.append(
                RemoteDevice(
                    user_id,
                    d["device_id"],
                    stream_id,
                    _text(name),
                    keys if isinstance(keys, dict) else None,
                    False,
                )
            )
        await self.store.replace_all(user_id, stream_id, found)
        for field in ("master_key", "self_signing_key"):
            key = answer.get(field)
            if isinstance(key, dict):
                await self.on_signing_key_update(origin, {"user_id": user_id, field: key})
        self.resyncs += 1
        await self._tell([(user_id, "")])
        return True

    async def stop(self) -> None:
        """Cancel running resynchronisations."""
        for task in list(self._resyncing.values()):
            task.cancel()
        for task in list(self._resyncing.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resyncing.clear()
