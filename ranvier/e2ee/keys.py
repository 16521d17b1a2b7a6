"""Device keys, one-time keys and their queries: what ``/keys/upload``, ``/keys/query``
and ``/keys/claim`` do, for clients and for other servers.

Spec: client-server-api "End-to-End Encryption" ("Uploading keys", "Querying keys",
"Claiming one-time keys"; keys.yaml), server-server-api "End-to-End Encryption"
(user_keys.yaml: the same queries from other servers, answered for local users only).

Theory of operation
-------------------
:meth:`E2eKeys.upload` checks the device keys belong to the requesting device and
carry ``algorithms``, ``keys`` and a ``signatures`` object (400 ``M_BAD_JSON``
otherwise; the server does not verify the device's self-signature, which only the other
devices can act on, as other servers do not either), stores them, and records a device
list change when they differ from the stored ones. One-time and fallback keys are stored by
:class:`~ranvier.e2ee.key_store.E2eKeyStore`.

:meth:`E2eKeys.query` answers local users from the stores (device keys with the
signatures uploaded on them and ``unsigned.device_display_name``; master and
self-signing keys with the signatures the requester may see; the requester's own
user-signing key) and remote users through :class:`~ranvier.e2ee.remote.RemoteKeys`.
:meth:`E2eKeys.claim` hands out one key per requested device and algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.e2ee.cross_signing_store import CrossSigningStore, public_key_of, with_signatures
from ranvier.e2ee.device_list_stream import DeviceListStream
from ranvier.e2ee.key_store import E2eKeyStore, KeyConflict
from ranvier.e2ee.remote import RemoteKeys
from ranvier.http.types import MatrixError
from ranvier.users.devices import DeviceStore


def _bad(message: str) -> MatrixError:
    return MatrixError(400, "M_BAD_JSON", message)


def reject_nul(value: Any, what: str = "request") -> None:
    """400 ``M_BAD_JSON`` when a string anywhere in ``value`` (keys included) holds a NUL
    character: ids go into text columns, and PostgreSQL cannot store NUL in text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise _bad(f"NUL characters are not allowed in the {what}")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_device_keys(keys: Any, user_id: str, device_id: str) -> JsonDict:
    """The ``device_keys`` of an upload, checked (see the module docstring)."""
    if not isinstance(keys, dict):
        raise _bad("'device_keys' must be an object")
    if keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        raise _bad("device_keys must belong to the requesting user and device")
    algorithms = keys.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise _bad("device_keys.algorithms must be a list of strings")
    key_map = keys.get("keys")
    if not isinstance(key_map, dict) or not key_map:
        raise _bad("device_keys.keys must be a non-empty object")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in key_map.items()):
        raise _bad("device_keys.keys must map key ids to strings")
    if not isinstance(keys.get("signatures"), dict):
        raise _bad("device_keys.signatures must be an object")
    return keys


def _key_map(body: JsonDict, field: str) -> dict[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(f"'{field}' must be an object")
    for key_id, key in value.items():
        if ":" not in key_id or not isinstance(key, (dict, str)):
            raise _bad(f"'{field}' must map '<algorithm>:<key_id>' to keys")
    return value


class E2eKeys:
    """Upload, query and claim of end-to-end keys (module docstring)."""

    def __init__(
        self,
        keys: E2eKeyStore,
        cross_signing: CrossSigningStore,
        devices: DeviceStore,
        stream: DeviceListStream,
        is_local: Callable[[str], bool],
        remote: RemoteKeys | None = None,
    ) -> None:
        self.keys = keys
        self.cross_signing = cross_signing
        self.devices = devices
        self.stream = stream
        self.is_local = is_local
        self.remote = remote

    # ---- upload ---------------------------------------------------------------------

    async def upload(self, user_id: str, device_id: str, body: JsonDict) -> JsonDict:
        """``POST /keys/upload``: the response body."""
        device_keys = body.get("device_keys")
        checked = (
            None if device_keys is None else check_device_keys(device_keys, user_id, device_id)
        )
        one_time = _key_map(body, "one_time_keys")
        fallback = _key_map(body, "fallback_keys")
        if "org.matrix.msc2732.fallback_keys" in body and not fallback:
            fallback = _key_map(body, "org.matrix.msc2732.fallback_keys")
        if checked is not None and await self.keys.set_device_keys(user_id, device_id, checked):
            await self.stream.record([(user_id, device_id)])
        try:
            if one_time:
                await self.keys.add_one_time_keys(user_id, device_id, one_time)
            if fallback:
                await self.keys.set_fallback_keys(user_id, device_id, fallback)
        except KeyConflict as exc:
            raise MatrixError(400, "M_INVALID_PARAM", str(exc)) from None
        return {"one_time_key_counts": await self.keys.one_time_key_counts(user_id, device_id)}

    # ---- query ----------------------------------------------------------------------

    async def local_device_keys(
        self, user_id: str, wanted: list[str], *, with_names: bool = True
    ) -> dict[str, JsonDict]:
        """``{device_id: keys}`` of a local user's devices (all when ``wanted`` is
        empty), with their uploaded signatures and ``unsigned``."""
        stored = await self.keys.device_keys(user_id)
        if not stored:
            return {}
        names = {d.device_id: d.display_name for d in await self.devices.all_for(user_id)}
        sigs = await self.cross_signing.signatures(user_id, None)
        out: dict[str, JsonDict] = {}
        for device_id, keys in sorted(stored.items()):
            if (wanted and device_id not in wanted) or device_id not in names:
                continue
            entry = with_signatures(keys, sigs.get(device_id))
            unsigned = dict(entry.get("unsigned") or {})
            name = names.get(device_id)
            if with_names and name is not None:
                unsigned["device_display_name"] = name
            entry = {**entry, "unsigned": unsigned}
            out[device_id] = entry
        return out

    async def local_cross_signing(self, user_id: str, viewer: str | None) -> dict[str, JsonDict]:
        """``{key_type: key}`` of a local user as ``viewer`` may see them (None: another
        server): the user-signing key only for the user themself."""
        keys = await self.cross_signing.keys(user_id)
        if viewer != user_id:
            keys.pop("user_signing", None)
        master = keys.get("master")
        if master is not None:
            pub = public_key_of(master)
            if pub is not None:
                sigs = await self.cross_signing.signatures(user_id, viewer)
                keys["master"] = with_signatures(master, sigs.get(pub))
        return keys

    async def query_local(self, wanted: Mapping[str, list[str]], viewer: str | None) -> JsonDict:
        """The ``/keys/query`` body parts for local users (``viewer`` None: a server)."""
        out: JsonDict = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}}
        if viewer is not None:
            out["user_signing_keys"] = {}
        for user_id, devices in wanted.items():
            out["device_keys"][user_id] = await self.local_device_keys(
                user_id, devices, with_names=viewer is not None
            )
            cross = await self.local_cross_signing(user_id, viewer)
            for key_type, field in (
                ("master", "master_keys"),
                ("self_signing", "self_signing_keys"),
                ("user_signing", "user_signing_keys"),
            ):
                if key_type in cross and field in out:
                    out[field][user_id] = cross[key_type]
        return out

    async def query(self, requester: str, body: JsonDict) -> JsonDict:
        """``POST /keys/query``: the response body."""
        wanted = body.get("device_keys")
        if not isinstance(wanted, dict):
            raise _bad("'device_keys' must be an object")
        for user_id, devices in wanted.items():
            if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
                raise _bad(f"device_keys[{user_id!r}] must be a list of device ids")
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        remote = {u: d for u, d in wanted.items() if not self.is_local(u)}
        out = await self.query_local(local, requester)
        failures: JsonDict = {}
        if remote and self.remote is not None:
            got, failures = await self.remote.query(
                remote, RemoteKeys.timeout_s(body.get("timeout"))
            )
            for field, values in got.items():
                out.setdefault(field, {}).update(values)
            # The requester's own signatures on remote master keys are kept here only.
            for user_id, master in out["master_keys"].items():
                pub = public_key_of(master) if user_id in remote else None
                if pub is not None:
                    sigs = await self.cross_signing.signatures(user_id, requester)
                    out["master_keys"][user_id] = with_signatures(master, sigs.get(pub))
        out["failures"] = failures
        return out

    async def device_keys(self, user_id: str) -> tuple[int, dict[str, JsonDict]]:
        """``GET /user/devices`` (federation): ``(stream_id, {device_id: keys})``."""
        keys = await self.local_device_keys(user_id, [], with_names=False)
        for device_id, entry in keys.items():
            keys[device_id] = {k: v for k, v in entry.items() if k != "unsigned"}
        return await self.stream.latest_id(user_id), keys

    async def cross_signing_keys(self, user_id: str) -> dict[str, JsonDict]:
        """The master and self-signing keys as other servers see them."""
        return await self.local_cross_signing(user_id, None)

    # ---- claim ----------------------------------------------------------------------

    @staticmethod
    def parse_claim(wanted: Any) -> dict[str, dict[str, str]]:
        """``one_time_keys`` of a claim, checked (400 ``M_BAD_JSON``)."""
        if not isinstance(wanted, dict):
            raise _bad("'one_time_keys' must be an object")
        for user_id, by_device in wanted.items():
            if not isinstance(by_device, dict) or not all(
                isinstance(a, str) for a in by_device.values()
            ):
                raise _bad(f"one_time_keys[{user_id!r}] must map device ids to algorithms")
        return wanted

    async def claim_local(self, wanted: Mapping[str, Mapping[str, str]]) -> JsonDict:
        """Claim keys of local devices: ``{user_id: {device_id: {key_id: key}}}``."""
        return await self.keys.claim(
            (u, d, a) for u, by_device in wanted.items() for d, a in by_device.items()
        )

    async def claim(self, body: JsonDict) -> JsonDict:
        """``POST /keys/claim``: the response body."""
        wanted = self.parse_claim(body.get("one_time_keys"))
        local = {u: d for u, d in wanted.items() if self.is_local(u)}
        remote = {u: d for u, d in wanted.items() if not self.is_local(u)}
        keys = await self.claim_local(local)
        failures: JsonDict = {}
        if remote and self.remote is not None:
            got, failures = await self.remote.claim(
                remote, RemoteKeys.timeout_s(body.get("timeout"))
            )
            keys.update(got)
        return {"one_time_keys": keys, "failures": failures}

    # ---- devices going away ---------------------------------------------------------

    async def forget_device(self, user_id: str, device_id: str) -> None:
        """Drop every key and signature of a deleted device."""
        await self.keys.delete_device(user_id, device_id)
        await self.cross_signing.delete_device(user_id, device_id)
