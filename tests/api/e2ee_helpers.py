"""Real end-to-end keys for the API tests: a device's ed25519 and curve25519 keys, its
signed device keys and one-time keys, and cross-signing keys -- made and signed with
PyNaCl, as a client would (client-server-api "Signing JSON", "Cross-signing")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nacl.public
import nacl.signing

from ranvier.core.b64 import encode_base64
from ranvier.core.canonical_json import encode_canonical_json

OLM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM = "m.megolm.v1.aes-sha2"


def b64(data: bytes) -> str:
    """Unpadded standard base64."""
    return encode_base64(data)


def sign(obj: dict[str, Any], user_id: str, key_id: str, key: nacl.signing.SigningKey) -> None:
    """Add ``user_id``'s signature with ``key`` (``key_id``) to ``obj`` in place."""
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    signature = key.sign(encode_canonical_json(body)).signature
    obj.setdefault("signatures", {}).setdefault(user_id, {})[key_id] = b64(signature)


def verify(obj: dict[str, Any], user_id: str, key_id: str, public: str) -> bool:
    """Whether ``obj`` carries a valid signature of ``user_id`` with ``key_id``."""
    from ranvier.core.b64 import decode_base64

    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    sig = obj.get("signatures", {}).get(user_id, {}).get(key_id)
    if sig is None:
        return False
    try:
        nacl.signing.VerifyKey(decode_base64(public)).verify(
            encode_canonical_json(body), decode_base64(sig)
        )
    except Exception:
        return False
    return True


@dataclass
class DeviceCrypto:
    """One device's identity keys."""

    user_id: str
    device_id: str
    ed25519: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    curve25519: nacl.public.PrivateKey = field(default_factory=nacl.public.PrivateKey.generate)
    counter: int = 0

    @property
    def ed25519_public(self) -> str:
        return b64(bytes(self.ed25519.verify_key))

    def device_keys(self) -> dict[str, Any]:
        """The signed ``device_keys`` of ``/keys/upload``."""
        keys: dict[str, Any] = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": [OLM, MEGOLM],
            "keys": {
                f"curve25519:{self.device_id}": b64(bytes(self.curve25519.public_key)),
                f"ed25519:{self.device_id}": self.ed25519_public,
            },
        }
        sign(keys, self.user_id, f"ed25519:{self.device_id}", self.ed25519)
        return keys

    def one_time_keys(self, n: int, *, fallback: bool = False) -> dict[str, Any]:
        """``n`` signed curve25519 keys: ``{"signed_curve25519:<id>": key}``."""
        out: dict[str, Any] = {}
        for _ in range(n):
            self.counter += 1
            key: dict[str, Any] = {"key": b64(bytes(nacl.public.PrivateKey.generate().public_key))}
            if fallback:
                key["fallback"] = True
            sign(key, self.user_id, f"ed25519:{self.device_id}", self.ed25519)
            out[f"signed_curve25519:AAAA{self.counter:04d}"] = key
        return out


@dataclass
class CrossSigningKeys:
    """A user's master, self-signing and user-signing keys."""

    user_id: str
    master: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    self_signing: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    user_signing: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)

    @staticmethod
    def public(key: nacl.signing.SigningKey) -> str:
        return b64(bytes(key.verify_key))

    def key(self, usage: str) -> dict[str, Any]:
        """The key object of ``usage`` (signed by the master key unless it is it)."""
        signing = getattr(self, usage)
        pub = self.public(signing)
        obj: dict[str, Any] = {
            "user_id": self.user_id,
            "usage": [usage],
            "keys": {f"ed25519:{pub}": pub},
        }
        if usage != "master":
            sign(obj, self.user_id, f"ed25519:{self.public(self.master)}", self.master)
        return obj

    def upload_body(self) -> dict[str, Any]:
        """The body of ``/keys/device_signing/upload`` with all three keys."""
        return {
            "master_key": self.key("master"),
            "self_signing_key": self.key("self_signing"),
            "user_signing_key": self.key("user_signing"),
        }
