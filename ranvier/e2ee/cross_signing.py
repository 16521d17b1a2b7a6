"""Cross-signing: ``POST /keys/device_signing/upload`` and ``POST
/keys/signatures/upload``.

Spec: client-server-api "Cross-signing" and cross_signing.yaml. A master key
(``usage`` ``["master"]``) signs the self-signing key (which signs the user's devices)
and the user-signing key (which signs other users' master keys). The upload is
checked: each key belongs to the user, has the right ``usage`` and exactly one
``ed25519`` public key, which must not equal a device id of the user (403
``M_FORBIDDEN``); the self-signing and user-signing keys must carry a valid master
signature (400 ``M_INVALID_SIGNATURE``); without a master key in the request or stored
the answer is 400 ``M_MISSING_PARAM``. Whether User-Interactive Authentication is
needed is :meth:`CrossSigning.needs_auth` (the spec's two exceptions: no master key
stored yet, or a request that repeats the stored keys).

A signature upload is checked key by key, failures reported per key in the answer:
the signed object must be the stored key (apart from ``signatures``) and each new
signature must verify -- on a device, with the user's self-signing key; on the user's
own master key, with one of their devices' ``ed25519`` keys; on another user's master
key, with the uploader's user-signing key. The user-signing key and the signatures made
with it concern only their owner: their device list changes are private to them
(:func:`~ranvier.e2ee.device_list_stream.private_to`), and go to no other server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.core.signing import SignatureError, decode_verify_key_base64, verify_json_signature
from ranvier.e2ee.cross_signing_store import KEY_TYPES, CrossSigningStore, public_key_of
from ranvier.e2ee.device_list_stream import DeviceListStream, private_to
from ranvier.e2ee.key_store import E2eKeyStore
from ranvier.http.types import MatrixError
from ranvier.users.devices import DeviceStore

RemoteMasterKey = Callable[[str], Awaitable[JsonDict | None]]
"""``await lookup(user_id)``: the master key this server knows for a remote user."""


def _strip(obj: JsonDict) -> JsonDict:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def _verify(obj: JsonDict, signer: str, public_key: str, key_id: str | None = None) -> bool:
    """Whether ``signer`` signed ``obj`` with ``key_id`` (default ``ed25519:<public_key>``,
    the id of a cross-signing key; a device signs as ``ed25519:<device_id>``)."""
    try:
        verify_json_signature(
            obj, signer, key_id or f"ed25519:{public_key}", decode_verify_key_base64(public_key)
        )
    except (SignatureError, ValueError):
        return False
    return True


def _fail(errcode: str, error: str) -> JsonDict:
    return {"errcode": errcode, "error": error}


class CrossSigning:
    """Uploads of cross-signing keys and signatures (module docstring)."""

    def __init__(
        self,
        store: CrossSigningStore,
        keys: E2eKeyStore,
        devices: DeviceStore,
        stream: DeviceListStream,
        remote_master_key: RemoteMasterKey | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.devices = devices
        self.stream = stream
        self.remote_master_key = remote_master_key

    # ---- device_signing/upload ------------------------------------------------------

    @staticmethod
    def _requested(body: JsonDict) -> dict[str, JsonDict]:
        out: dict[str, JsonDict] = {}
        for key_type in KEY_TYPES:
            value = body.get(f"{key_type}_key")
            if value is None:
                continue
            if not isinstance(value, dict):
                raise MatrixError(400, "M_BAD_JSON", f"'{key_type}_key' must be an object")
            out[key_type] = value
        return out

    async def needs_auth(self, user_id: str, body: JsonDict) -> bool:
        """Whether this upload must go through User-Interactive Authentication: only when
        a master key is stored and the request holds a key that differs from the stored
        one of its type."""
        stored = await self.store.keys(user_id)
        if "master" not in stored:
            return False
        requested = self._requested(body)
        return any(stored.get(t) != key for t, key in requested.items())

    async def upload_keys(self, user_id: str, body: JsonDict) -> list[str]:
        """Check and store the keys of ``POST /keys/device_signing/upload``; returns the
        key types stored (a device list change is recorded when any changed)."""
        requested = self._requested(body)
        stored = await self.store.keys(user_id)
        master = requested.get("master", stored.get("master"))
        if master is None:
            raise MatrixError(400, "M_MISSING_PARAM", "No master key available")
        device_ids = {d.device_id for d in await self.devices.all_for(user_id)}
        for key_type, key in requested.items():
            if key.get("user_id") != user_id:
                raise MatrixError(400, "M_INVALID_PARAM", f"{key_type} key of another user")
            usage = key.get("usage")
            if not isinstance(usage, list) or key_type not in usage:
                raise MatrixError(400, "M_INVALID_PARAM", f"{key_type} key lacks its usage")
            pub = public_key_of(key)
            if pub is None:
                raise MatrixError(
                    400, "M_INVALID_PARAM", f"{key_type} key must hold one ed25519 key"
                )
            if pub in device_ids:
                raise MatrixError(403, "M_FORBIDDEN", "Key ID in use")
        master_pub = public_key_of(master)
        if master_pub is None:
            raise MatrixError(400, "M_INVALID_PARAM", "master key must hold one ed25519 key")
        for key_type in ("self_signing", "user_signing"):
            signed = requested.get(key_type)
            if signed is not None and not _verify(signed, user_id, master_pub):
                raise MatrixError(
                    400, "M_INVALID_SIGNATURE", f"{key_type} key is not signed by the master key"
                )
        changed = {t: k for t, k in requested.items() if stored.get(t) != k}
        if changed:
            await self.store.set_keys(user_id, changed)
            public = set(changed) != {"user_signing"}
            await self.stream.record([(user_id, "" if public else private_to(user_id))])
        return sorted(changed)

    # ---- signatures/upload ----------------------------------------------------------

    async def upload_signatures(self, uploader: str, body: JsonDict) -> JsonDict:
        """``POST /keys/signatures/upload``: store the valid signatures and return
        ``{"failures": ...}``."""
        failures: dict[str, dict[str, JsonDict]] = {}
        rows: list[tuple[str, str, str, str, str]] = []
        changed: set[tuple[str, str]] = set()
        own = await self.store.keys(uploader)
        for user_id, by_key in body.items():
            if not isinstance(by_key, dict):
                raise MatrixError(400, "M_BAD_JSON", f"{user_id!r} must map key ids to objects")
            for key_id, signed in by_key.items():
                if not isinstance(signed, dict):
                    failures.setdefault(user_id, {})[key_id] = _fail("M_BAD_JSON", "not an object")
                    continue
                found, error = await self._check(uploader, own, user_id, key_id, signed)
                if error is not None:
                    failures.setdefault(user_id, {})[key_id] = error
                    continue
                rows.extend(found)
                if user_id != uploader:
                    changed.add((user_id, private_to(uploader)))
                elif key_id == public_key_of(own.get("master") or {}):
                    changed.add((user_id, ""))
                else:
                    changed.add((user_id, key_id))
        if rows:
            await self.store.add_signatures(rows)
            await self.stream.record(changed)
        return {"failures": failures}

    async def _check(
        self,
        uploader: str,
        own: dict[str, JsonDict],
        user_id: str,
        key_id: str,
        signed: JsonDict,
    ) -> tuple[list[tuple[str, str, str, str, str]], JsonDict | None]:
        """The signature rows to store for one signed object, or the failure."""
        sigs = signed.get("signatures")
        mine = sigs.get(uploader) if isinstance(sigs, dict) else None
        if not isinstance(mine, dict) or not mine:
            return [], _fail("M_INVALID_SIGNATURE", "no signature by the uploader")
        if user_id == uploader:
            device = await self.keys.get_device_keys(user_id, key_id)
            master = own.get("master")
            if device is not None:
                target, signer_keys = device, self._self_signing(own)
            elif master is not None and public_key_of(master) == key_id:
                target, signer_keys = master, await self._device_signers(user_id)
            else:
                return [], _fail("M_NOT_FOUND", "unknown key")
        else:
            master = await self._master_of(user_id)
            if master is None or public_key_of(master) != key_id:
                return [], _fail("M_NOT_FOUND", "unknown master key")
            target = master
            user_signing = own.get("user_signing")
            pub = None if user_signing is None else public_key_of(user_signing)
            signer_keys = {} if pub is None else {f"ed25519:{pub}": pub}
        if _strip(target) != _strip(signed):
            return [], _fail("M_INVALID_SIGNATURE", "the signed object differs from the key")
        rows: list[tuple[str, str, str, str, str]] = []
        for signer_key_id, signature in mine.items():
            pub = signer_keys.get(signer_key_id)
            if pub is None or not isinstance(signature, str):
                continue
            only = {**signed, "signatures": {uploader: {signer_key_id: signature}}}
            if not _verify(only, uploader, pub, signer_key_id):
                return [], _fail("M_INVALID_SIGNATURE", f"bad signature with {signer_key_id}")
            rows.append((user_id, key_id, uploader, signer_key_id, signature))
        if not rows:
            return [], _fail("M_INVALID_SIGNATURE", "no signature by a key that may sign this")
        return rows, None

    @staticmethod
    def _self_signing(own: dict[str, JsonDict]) -> dict[str, str]:
        key = own.get("self_signing")
        pub = None if key is None else public_key_of(key)
        return {} if pub is None else {f"ed25519:{pub}": pub}

    async def _device_signers(self, user_id: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for device_id, keys in (await self.keys.device_keys(user_id)).items():
            key_map: Any = keys.get("keys")
            pub = key_map.get(f"ed25519:{device_id}") if isinstance(key_map, dict) else None
            if isinstance(pub, str):
                out[f"ed25519:{device_id}"] = pub
        return out

    async def _master_of(self, user_id: str) -> JsonDict | None:
        local = (await self.store.keys(user_id)).get("master")
        if local is not None or self.remote_master_key is None:
            return local
        return await self.remote_master_key(user_id)
