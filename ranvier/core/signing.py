"""Ed25519 signing keys, JSON signatures and event signatures.

Spec: appendices "Signing JSON", "Signing Details", "Checking for a Signature"
and "Cryptographic Test Vectors"; server-server-api "Signing Events",
"Adding hashes and signatures to outgoing events" and "Validating hashes and
signatures on received events".

Theory of operation: a signature covers the canonical JSON of an object
without its ``signatures`` and ``unsigned`` members and is stored under
``signatures[<entity>][<algorithm>:<version>]`` as unpadded Base64. An event
is signed in its *redacted* form (after its content hash was added), so a
signature stays checkable after redaction, while the content hash tells a
receiver whether it holds the full event.

Canonical JSON here is lenient (see :mod:`ranvier.core.canonical_json`): it
is byte-identical to the strict form wherever the strict form exists and
still reproduces what peers signed on historical (room v1-v5) events carrying
floats or large integers. Strictness of event content is
:mod:`ranvier.core.format`'s job.

Keys are stored on disk in two formats: Synapse's one-line-per-key text
(``ed25519 <version> <unpadded base64 seed>``) and Dendrite's PEM block
(type ``MATRIX PRIVATE KEY``, header ``Key-ID: ed25519:<version>``, body the
32-byte seed).

PyNaCl (libsodium) is used directly: it is the fastest Ed25519 available here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.hashes import compute_content_hash
from ranvier.core.redaction import redact
from ranvier.core.room_versions import EventFormat, RoomVersion

__all__ = [
    "ED25519",
    "SignatureError",
    "SigningKey",
    "decode_signing_key_base64",
    "decode_verify_key_base64",
    "generate_signing_key",
    "read_dendrite_pem",
    "read_signing_keys",
    "servers_that_must_sign",
    "sign_event",
    "sign_json",
    "signature_key_ids",
    "verify_event_signature",
    "verify_json_signature",
    "write_dendrite_pem",
    "write_signing_keys",
]

JsonDict = dict[str, Any]

ED25519 = "ed25519"
"""The only signing algorithm Matrix defines."""

_PEM_TYPE = "MATRIX PRIVATE KEY"


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A server's Ed25519 signing key.

    ``key_id`` is ``"ed25519:<version>"``; ``nacl_key`` the PyNaCl key.
    """

    version: str
    nacl_key: nacl.signing.SigningKey = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", f"{ED25519}:{self.version}")

    @property
    def alg(self) -> str:
        """The algorithm, always ``"ed25519"``."""
        return ED25519

    @property
    def seed(self) -> bytes:
        """The 32-byte private seed."""
        return bytes(self.nacl_key)

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The public half."""
        return self.nacl_key.verify_key

    @property
    def verify_key_bytes(self) -> bytes:
        """The 32-byte public key."""
        return bytes(self.nacl_key.verify_key)

    @property
    def verify_key_base64(self) -> str:
        """The public key as unpadded Base64, as published in ``/_matrix/key/v2/server``."""
        return encode_base64(bytes(self.nacl_key.verify_key))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of ``message``."""
        return self.nacl_key.sign(message).signature


def _check_version(version: str) -> None:
    if not version or any(c.isspace() for c in version) or ":" in version:
        raise ValueError(f"invalid key version {version!r}")


def generate_signing_key(version: str) -> SigningKey:
    """A fresh random key with the given version (e.g. ``"a_AbCd"``)."""
    _check_version(version)
    return SigningKey(version, nacl.signing.SigningKey.generate())


def decode_signing_key_base64(algorithm: str, version: str, key_base64: str) -> SigningKey:
    """Build a key from its Base64 seed. Raises :class:`ValueError` on an unknown
    algorithm, a bad version or a seed that is not 32 bytes."""
    if algorithm != ED25519:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    _check_version(version)
    seed = decode_base64(key_base64)
    if len(seed) != 32:
        raise ValueError(f"ed25519 seed must be 32 bytes, not {len(seed)}")
    return SigningKey(version, nacl.signing.SigningKey(seed))


def decode_verify_key_base64(key_base64: str) -> nacl.signing.VerifyKey:
    """Decode a published Ed25519 public key. Raises :class:`ValueError`."""
    raw = decode_base64(key_base64)
    if len(raw) != 32:
        raise ValueError(f"ed25519 public key must be 32 bytes, not {len(raw)}")
    return nacl.signing.VerifyKey(raw)


def read_signing_keys(text: str) -> list[SigningKey]:
    """Parse Synapse's signing key file: one ``<alg> <version> <base64 seed>`` per
    line; blank lines are ignored. Raises :class:`ValueError` naming the line."""
    keys: list[SigningKey] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"signing key line {lineno}: expected '<alg> <version> <key>'")
        try:
            keys.append(decode_signing_key_base64(*parts))
        except ValueError as e:
            raise ValueError(f"signing key line {lineno}: {e}") from None
    return keys


def write_signing_keys(keys: Iterable[SigningKey]) -> str:
    """Serialise keys in Synapse's signing key file format (one line each)."""
    return "".join(f"{k.alg} {k.version} {encode_base64(k.seed)}\n" for k in keys)


def read_dendrite_pem(text: str) -> list[SigningKey]:
    """Parse Dendrite's PEM key file: ``MATRIX PRIVATE KEY`` blocks with a
    ``Key-ID: ed25519:<version>`` header and the 32-byte seed as body (other
    block types are skipped). Raises :class:`ValueError` on malformed blocks or
    when no key is present."""
    keys: list[SigningKey] = []
    lines = iter(text.splitlines())
    for line in lines:
        line = line.strip()
        if not (line.startswith("-----BEGIN ") and line.endswith("-----")):
            continue
        block_type = line[len("-----BEGIN ") : -5]
        headers: dict[str, str] = {}
        body: list[str] = []
        for inner in lines:
            inner = inner.strip()
            if inner == f"-----END {block_type}-----":
                break
            if not body and ":" in inner:
                name, _, value = inner.partition(":")
                headers[name.strip()] = value.strip()
            elif inner:
                body.append(inner)
        else:
            raise ValueError(f"PEM block {block_type!r} has no END line")
        if block_type != _PEM_TYPE:
            continue
        key_id = headers.get("Key-ID", "")
        alg, _, version = key_id.partition(":")
        if alg != ED25519 or not version:
            raise ValueError(f"PEM Key-ID {key_id!r} is not 'ed25519:<version>'")
        try:
            seed = base64.b64decode("".join(body), validate=True)
        except binascii.Error as e:
            raise ValueError(f"PEM body is not base64: {e}") from None
        if len(seed) != 32:
            raise ValueError(f"PEM seed must be 32 bytes, not {len(seed)}")
        _check_version(version)
        keys.append(SigningKey(version, nacl.signing.SigningKey(seed)))
    if not keys:
        raise ValueError(f"no {_PEM_TYPE} block found")
    return keys


def write_dendrite_pem(keys: Iterable[SigningKey]) -> str:
    """Serialise keys as Dendrite PEM blocks (padded Base64, 64-column lines)."""
    out: list[str] = []
    for k in keys:
        b64 = base64.b64encode(k.seed).decode("ascii")
        out.append(f"-----BEGIN {_PEM_TYPE}-----\n")
        out.append(f"Key-ID: {k.key_id}\n\n")
        out.extend(b64[i : i + 64] + "\n" for i in range(0, len(b64), 64))
        out.append(f"-----END {_PEM_TYPE}-----\n")
    return "".join(out)


def _signing_bytes(obj: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in obj.items() if k != "signatures" and k != "unsigned"}
    return encode_canonical_json(body, strict=False)


def sign_json(obj: Mapping[str, Any], server_name: str, key: SigningKey) -> JsonDict:
    """Return a copy of ``obj`` with ``key``'s signature added under
    ``signatures[server_name][key.key_id]`` (appendices "Signing Details").

    Existing signatures are kept (copied, not mutated)."""
    signature = encode_base64(key.sign(_signing_bytes(obj)))
    out = dict(obj)
    old = obj.get("signatures")
    sigs: JsonDict = dict(old) if isinstance(old, dict) else {}
    mine = sigs.get(server_name)
    sigs[server_name] = {**(mine if isinstance(mine, dict) else {}), key.key_id: signature}
    out["signatures"] = sigs
    return out


def signature_key_ids(obj: Mapping[str, Any], server_name: str) -> list[str]:
    """The ``ed25519:*`` key ids ``server_name`` signed ``obj`` with (others ignored,
    per appendices "Checking for a Signature" step 2)."""
    sigs = obj.get("signatures")
    if not isinstance(sigs, dict):
        return []
    mine = sigs.get(server_name)
    if not isinstance(mine, dict):
        return []
    return [k for k in mine if isinstance(k, str) and k.startswith(ED25519 + ":")]


def verify_json_signature(
    obj: Mapping[str, Any],
    server_name: str,
    key_id: str,
    verify_key: bytes | nacl.signing.VerifyKey,
) -> None:
    """Check ``server_name``'s signature with ``key_id`` on ``obj``
    (appendices "Checking for a Signature"). Raises :class:`SignatureError`."""
    sigs = obj.get("signatures")
    if not isinstance(sigs, dict) or not isinstance(sigs.get(server_name), dict):
        raise SignatureError(f"no signatures from {server_name}")
    sig_b64 = sigs[server_name].get(key_id)
    if sig_b64 is None:
        raise SignatureError(f"no signature from {server_name} with key {key_id}")
    if not isinstance(sig_b64, str):
        raise SignatureError(f"signature from {server_name} {key_id} is not a string")
    try:
        signature = decode_base64(sig_b64)
    except ValueError:
        raise SignatureError(f"signature from {server_name} {key_id} is not base64") from None
    try:
        message = _signing_bytes(obj)
    except ValueError as e:
        raise SignatureError(f"cannot encode signed object: {e}") from None
    vk = verify_key if isinstance(verify_key, nacl.signing.VerifyKey) else None
    try:
        if vk is None:
            vk = nacl.signing.VerifyKey(bytes(verify_key))
        vk.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise SignatureError(f"bad signature from {server_name} with key {key_id}") from None


def sign_event(
    pdu: Mapping[str, Any], server_name: str, key: SigningKey, room_version: RoomVersion
) -> JsonDict:
    """Return a copy of ``pdu`` with a content hash (if it had no ``sha256`` one)
    and ``server_name``'s signature over its redacted form (server-server-api
    "Adding hashes and signatures to outgoing events"). Content is kept."""
    out = dict(pdu)
    hashes = pdu.get("hashes")
    if not (isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str)):
        new_hashes = dict(hashes) if isinstance(hashes, dict) else {}
        new_hashes["sha256"] = encode_base64(compute_content_hash(pdu))
        out["hashes"] = new_hashes
    signed = sign_json(redact(out, room_version), server_name, key)
    out["signatures"] = signed["signatures"]
    return out


def verify_event_signature(
    pdu: Mapping[str, Any],
    room_version: RoomVersion,
    server_name: str,
    key_id: str,
    verify_key: bytes | nacl.signing.VerifyKey,
) -> None:
    """Check ``server_name``'s signature with ``key_id`` over the redacted form of
    ``pdu``; succeeds for full and redacted copies alike. Raises :class:`SignatureError`."""
    verify_json_signature(redact(pdu, room_version), server_name, key_id, verify_key)


def _domain(identifier: Any) -> str | None:
    if not isinstance(identifier, str):
        return None
    _, sep, domain = identifier.partition(":")
    return domain if sep and domain else None


def servers_that_must_sign(pdu: Mapping[str, Any], room_version: RoomVersion) -> set[str]:
    """The servers whose signatures an incoming event needs (server-server-api
    "Validating hashes and signatures on received events"; rooms/v8 restricted
    joins).

    * the sender's server, except for invites made from a third-party invite
      (``content.third_party_invite`` present), which any server may send;
    * rooms v1-v2: the server in the ``event_id``;
    * rooms with restricted joins: for a join carrying
      ``content.join_authorised_via_users_server``, that user's server.

    Raises :class:`SignatureError` if a required id has no server name.
    """
    servers: set[str] = set()
    content = pdu.get("content")
    content = content if isinstance(content, dict) else {}
    is_member = pdu.get("type") == "m.room.member"
    membership = content.get("membership") if is_member else None
    if not (membership == "invite" and "third_party_invite" in content):
        domain = _domain(pdu.get("sender"))
        if domain is None:
            raise SignatureError("sender has no server name")
        servers.add(domain)
    if room_version.event_format is EventFormat.V1:
        domain = _domain(pdu.get("event_id"))
        if domain is None:
            raise SignatureError("event_id has no server name")
        servers.add(domain)
    if room_version.restricted_join_rule and membership == "join":
        authoriser = content.get("join_authorised_via_users_server")
        if authoriser is not None:
            domain = _domain(authoriser)
            if domain is None:
                raise SignatureError("join_authorised_via_users_server has no server name")
            servers.add(domain)
    return servers
