"""Remote server keys as values, and the checks on a key response (no I/O).

Spec: server-server-api "Retrieving server keys", "Publishing Keys" (the ``Server
Keys`` object of definitions/keys.yaml), "Querying Keys Through Another Server";
"Validating hashes and signatures on received events"; rooms/v5 "Signing key
validity period".

Theory of operation: a key response lists ``verify_keys`` (usable for requests and
events until ``valid_until_ts``) and ``old_verify_keys`` (usable only for events
sent before their ``expired_ts``). :func:`parse_key_response` checks a response is
for the server asked about and self-signed -- every signature of that server made
with one of its listed ``verify_keys`` must verify, and there must be at least one
-- and turns it into :class:`ServerKey` values. A notary's own signature on the
response is checked separately (:func:`check_notary_signature`) with the key the
operator configured for it.

:meth:`ServerKey.valid_at` is the validity rule: an old key is good for timestamps
up to its ``expired_ts`` in every room version (the spec ignores keys known to have
expired before the event); a current key is good for any timestamp in rooms v1-v4
(``valid_until_ts`` "MUST be ignored" there) and, where validity is enforced (room
v5+ events, and requests), up to the lesser of ``valid_until_ts`` and seven days
after we fetched the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ranvier.core.b64 import decode_base64
from ranvier.core.ids import InvalidIdentifier, parse_server_name
from ranvier.core.signing import ED25519, SignatureError, verify_json_signature

__all__ = [
    "MAX_VALIDITY_MS",
    "KeyResponseError",
    "ServerKey",
    "check_notary_signature",
    "parse_key_response",
]

MAX_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000
"""A key is never trusted for more than seven days past its fetch (rooms/v5)."""


class KeyResponseError(ValueError):
    """A key response is malformed, for another server, or not properly signed."""


@dataclass(frozen=True, slots=True)
class ServerKey:
    """One verify key of a remote server, as learnt from a key response."""

    server_name: str
    key_id: str
    verify_key: bytes
    """The 32-byte Ed25519 public key."""
    valid_until_ts: int
    """``valid_until_ts`` of the response the key came in."""
    expired_ts: int | None
    """Set for keys listed in ``old_verify_keys``."""
    fetched_ts: int
    from_server: str
    """The server itself, or the notary that vouched for the response."""

    @property
    def trusted_until_ts(self) -> int:
        """The last timestamp a current key may sign at where validity is enforced."""
        return min(self.valid_until_ts, self.fetched_ts + MAX_VALIDITY_MS)

    def valid_at(self, ts: int, *, enforce_validity: bool = True) -> bool:
        """May this key have signed something at ``ts``?

        ``enforce_validity`` is the room version's ``enforce_key_validity`` flag for
        events, and True for requests (which old keys never sign: callers reject
        ``expired_ts`` keys for requests themselves).
        """
        if self.expired_ts is not None:
            return ts <= self.expired_ts
        if not enforce_validity:
            return True
        return ts <= self.trusted_until_ts


def _verify_key_bytes(key_id: str, entry: Any) -> bytes:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise KeyResponseError(f"key {key_id!r} has no 'key' string")
    try:
        raw = decode_base64(entry["key"])
    except ValueError:
        raise KeyResponseError(f"key {key_id!r} is not base64") from None
    if len(raw) != 32:
        raise KeyResponseError(f"key {key_id!r} is not a 32-byte ed25519 key")
    return raw


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_key_response(
    response: Any,
    *,
    expected_server: str | None,
    fetched_ts: int,
    from_server: str,
) -> list[ServerKey]:
    """Check a ``Server Keys`` object and return its ed25519 keys.

    ``expected_server`` is the server the keys were asked for (None: accept any
    valid server name, for notary answers listing several servers; the caller then
    groups them). Raises :class:`KeyResponseError`.
    """
    if not isinstance(response, dict):
        raise KeyResponseError("key response is not an object")
    server_name = response.get("server_name")
    if not isinstance(server_name, str):
        raise KeyResponseError("key response has no server_name")
    if expected_server is not None and server_name != expected_server:
        raise KeyResponseError(f"key response is for {server_name!r}, not {expected_server!r}")
    try:
        parse_server_name(server_name)
    except InvalidIdentifier as e:
        raise KeyResponseError(f"key response server_name: {e}") from None
    valid_until = response.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise KeyResponseError("key response has no integer valid_until_ts")
    verify_keys = response.get("verify_keys")
    old_keys = response.get("old_verify_keys", {})
    if not isinstance(verify_keys, dict) or not isinstance(old_keys, dict):
        raise KeyResponseError("verify_keys and old_verify_keys must be objects")

    keys: list[ServerKey] = []
    current: dict[str, bytes] = {}
    for key_id, entry in verify_keys.items():
        if not key_id.startswith(ED25519 + ":"):
            continue
        current[key_id] = raw = _verify_key_bytes(key_id, entry)
        keys.append(ServerKey(server_name, key_id, raw, valid_until, None, fetched_ts, from_server))

    signatures = response.get("signatures")
    own = signatures.get(server_name) if isinstance(signatures, dict) else None
    if not isinstance(own, dict):
        raise KeyResponseError(f"key response is not signed by {server_name}")
    checked = 0
    for key_id in own:
        raw_key = current.get(key_id)
        if raw_key is None:
            continue  # e.g. a notary's own answer signed with another of its keys
        try:
            verify_json_signature(response, server_name, key_id, raw_key)
        except SignatureError as e:
            raise KeyResponseError(f"key response self-signature: {e}") from None
        checked += 1
    if not checked:
        raise KeyResponseError(f"key response is not signed with any key of {server_name}")

    for key_id, entry in old_keys.items():
        if not key_id.startswith(ED25519 + ":") or key_id in current:
            continue
        raw = _verify_key_bytes(key_id, entry)
        expired = entry.get("expired_ts")
        if not _is_int(expired):
            raise KeyResponseError(f"old key {key_id!r} has no integer expired_ts")
        keys.append(
            ServerKey(server_name, key_id, raw, valid_until, expired, fetched_ts, from_server)
        )
    return keys


def check_notary_signature(
    response: Mapping[str, Any], notary: str, trusted_keys: Mapping[str, bytes]
) -> None:
    """Require a valid signature of ``notary`` with one of ``trusted_keys`` (key id ->
    public key) on ``response``. With no trusted keys configured, the notary's signature
    is checked against nothing and the answer refused. Raises :class:`KeyResponseError`."""
    sigs = response.get("signatures")
    mine = sigs.get(notary) if isinstance(sigs, dict) else None
    if not isinstance(mine, dict):
        raise KeyResponseError(f"notary answer is not signed by {notary}")
    for key_id in mine:
        key = trusted_keys.get(key_id)
        if key is None:
            continue
        try:
            verify_json_signature(response, notary, key_id, key)
        except SignatureError as e:
            raise KeyResponseError(f"notary signature: {e}") from None
        return
    raise KeyResponseError(f"notary answer is not signed with a trusted key of {notary}")
