"""Keys of users on other servers: ``POST /keys/query`` and ``POST /keys/claim`` for
remote users, over federation or from the device lists other servers pushed.

Spec: client-server-api "Querying keys" / "Claiming one-time keys" (``timeout``: "the
time to wait when downloading keys from remote servers. 10 seconds is the recommended
default"; servers that cannot be reached are listed in ``failures``),
server-server-api "End-to-End Encryption" (``POST /user/keys/query``, ``POST
/user/keys/claim``), "Device Management" (the device lists a server keeps from
``m.device_list_update`` EDUs).

Theory of operation
-------------------
Users are grouped by server and each server is asked concurrently, all within the
request's timeout. A query is answered without asking when every user of that server
is *tracked*: this server holds their device list
(:class:`~ranvier.federation.edus.device_list_store.RemoteDeviceListStore`), it is not
marked for resynchronisation, and a local user shares a room with them -- so their
server keeps sending updates. A tracked user whose list is unknown or stale has it
fetched first (``GET /user/devices``, which also keeps it for the updates that follow,
as Synapse does). Everything else goes over federation (``POST /user/keys/query``); a failure (no
answer in time, an error status, a malformed answer) becomes ``failures[server]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.client import FederationClient, FederationError
from ranvier.federation.edus.device_list_store import RemoteDeviceListStore

QUERY_PATH = "/_matrix/federation/v1/user/keys/query"
CLAIM_PATH = "/_matrix/federation/v1/user/keys/claim"
DEFAULT_TIMEOUT_MS = 10_000
_CROSS_SIGNING = {"master_keys": "master", "self_signing_keys": "self_signing"}
MAX_TIMEOUT_MS = 60_000


Resync = Callable[[str, str], Awaitable[bool]]
"""``await resync(server, user_id)``: whether the user's list was fetched and stored."""


def server_of(user_id: str) -> str | None:
    """The server part of ``user_id`` or None."""
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


def _failure(exc: BaseException) -> JsonDict:
    status = getattr(exc, "status", None)
    return {"status": status if isinstance(status, int) else 503, "message": str(exc) or "failed"}


class RemoteKeys:
    """Asks other servers for keys (module docstring)."""

    def __init__(
        self,
        client: FederationClient,
        cache: RemoteDeviceListStore,
        is_tracked: Callable[[str], Awaitable[bool]],
    ) -> None:
        self.client = client
        self.cache = cache
        self.is_tracked = is_tracked
        """Whether a local user shares a room with this remote user."""
        self.resync: Resync | None = None
        """Fetches a tracked user's whole list (``GET /user/devices``) into the cache."""
        self.cache_hits = 0
        self.federation_queries = 0

    @staticmethod
    def timeout_s(timeout_ms: Any) -> float:
        """The request's ``timeout`` in seconds (default 10 s, capped at 60 s)."""
        ms = DEFAULT_TIMEOUT_MS
        if isinstance(timeout_ms, int) and not isinstance(timeout_ms, bool) and timeout_ms >= 0:
            ms = timeout_ms
        return max(min(ms, MAX_TIMEOUT_MS), 100) / 1000

    async def _cached(self, user_id: str, devices: list[str]) -> JsonDict | None:
        """The cached answer for one user (``{"device_keys": ..., "master_key": ...,
        "self_signing_key": ...}``) or None when the user is not tracked."""
        state = await self.cache.stream_state(user_id)
        if state is None or state[1] or not await self.is_tracked(user_id):
            return None
        keys: dict[str, Any] = {}
        for d in await self.cache.devices(user_id):
            if d.keys is None or (devices and d.device_id not in devices):
                continue
            entry = dict(d.keys)
            if d.display_name is not None:
                entry["unsigned"] = {"device_display_name": d.display_name}
            keys[d.device_id] = entry
        return {
            "device_keys": keys,
            "master_key": await self.cache.cross_signing_key(user_id, "master"),
            "self_signing_key": await self.cache.cross_signing_key(user_id, "self_signing"),
        }

    async def _cached_or_resynced(
        self, server: str, user_id: str, devices: list[str], timeout_s: float
    ) -> JsonDict | None:
        """:meth:`_cached`, after fetching the whole list first when the user is tracked
        but the list is unknown or marked for resynchronisation."""
        found = await self._cached(user_id, devices)
        if found is not None or self.resync is None or not await self.is_tracked(user_id):
            return found
        try:
            async with asyncio.timeout(timeout_s):
                done = await self.resync(server, user_id)
        except TimeoutError:
            return None
        return await self._cached(user_id, devices) if done else None

    async def query(
        self, wanted: Mapping[str, list[str]], timeout_s: float
    ) -> tuple[JsonDict, JsonDict]:
        """``(partial /keys/query body, failures)`` for the remote users of ``wanted``."""
        by_server: dict[str, dict[str, list[str]]] = {}
        for user_id, devices in wanted.items():
            server = server_of(user_id)
            if server is not None:
                by_server.setdefault(server, {})[user_id] = devices
        out: JsonDict = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}}
        failures: JsonDict = {}

        async def one(server: str, users: dict[str, list[str]]) -> None:
            cached = {
                u: await self._cached_or_resynced(server, u, d, timeout_s) for u, d in users.items()
            }
            if all(c is not None for c in cached.values()):
                self.cache_hits += 1
                for user_id, c in cached.items():
                    assert c is not None
                    out["device_keys"][user_id] = c["device_keys"]
                    if c["master_key"] is not None:
                        out["master_keys"][user_id] = c["master_key"]
                    if c["self_signing_key"] is not None:
                        out["self_signing_keys"][user_id] = c["self_signing_key"]
                return
            self.federation_queries += 1
            try:
                async with asyncio.timeout(timeout_s):
                    answer = await self.client.post_json(
                        server, QUERY_PATH, {"device_keys": users}, timeout_s=timeout_s
                    )
            except (FederationError, OSError, TimeoutError) as exc:
                failures[server] = _failure(exc)
                return
            if not isinstance(answer, dict):
                failures[server] = {"status": 502, "message": "malformed answer"}
                return
            for field in ("device_keys", "master_keys", "self_signing_keys"):
                got = answer.get(field)
                if not isinstance(got, dict):
                    continue
                for user_id, value in got.items():
                    if (
                        user_id in users
                        and server_of(user_id) == server
                        and isinstance(value, dict)
                    ):
                        out[field][user_id] = value
                        key_type = _CROSS_SIGNING.get(field)
                        if key_type is not None and value.get("user_id") == user_id:
                            # Kept to check signatures local users make on them.
                            await self.cache.put_cross_signing_key(user_id, key_type, value)

        await asyncio.gather(*(one(s, u) for s, u in by_server.items()))
        return out, failures

    async def claim(
        self, wanted: Mapping[str, Mapping[str, str]], timeout_s: float
    ) -> tuple[JsonDict, JsonDict]:
        """``(one_time_keys, failures)`` for the remote users of ``wanted``
        (``{user_id: {device_id: algorithm}}``)."""
        by_server: dict[str, dict[str, Mapping[str, str]]] = {}
        for user_id, devices in wanted.items():
            server = server_of(user_id)
            if server is not None:
                by_server.setdefault(server, {})[user_id] = devices
        keys: JsonDict = {}
        failures: JsonDict = {}

        async def one(server: str, users: dict[str, Mapping[str, str]]) -> None:
            try:
                async with asyncio.timeout(timeout_s):
                    answer = await self.client.post_json(
                        server, CLAIM_PATH, {"one_time_keys": users}, timeout_s=timeout_s
                    )
            except (FederationError, OSError, TimeoutError) as exc:
                failures[server] = _failure(exc)
                return
            got = answer.get("one_time_keys") if isinstance(answer, dict) else None
            if not isinstance(got, dict):
                failures[server] = {"status": 502, "message": "malformed answer"}
                return
            for user_id, by_device in got.items():
                if user_id in users and isinstance(by_device, dict):
                    keys[user_id] = by_device

        await asyncio.gather(*(one(s, u) for s, u in by_server.items()))
        return keys, failures
