"""Our own published server keys: the body of ``GET /_matrix/key/v2/server``.

Spec: server-server-api "Publishing Keys" (keys_server.yaml, definitions/keys.yaml).

Theory of operation: the response is built once and kept as bytes. It lists the
current signing key in ``verify_keys``, the retired keys of
``global.old_private_keys`` in ``old_verify_keys`` with their ``expired_ts``, and
``valid_until_ts = now + global.key_validity_period``; it is signed by the current
key. Remote servers (and notaries) cache the response until ``valid_until_ts``
(notaries for half of it), so the cached bytes are rebuilt once half of the
validity period has gone by: every answer then stays valid for at least half the
period, and at least an hour as the spec asks of originating servers (the period
is clamped to two hours at least).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ranvier.config.keyfile import ServerKeys
from ranvier.core.canonical_json import encode_json
from ranvier.core.signing import SigningKey, sign_json

MIN_VALIDITY_MS = 2 * 60 * 60 * 1000
"""Published keys are valid for at least two hours, so every answer lasts an hour or more."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class LocalServerKeys:
    """Builds, signs and caches this server's key response."""

    def __init__(
        self,
        server_name: str,
        keys: ServerKeys,
        validity_period_ms: int,
        *,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.server_name = server_name
        self.keys = keys
        self.validity_period_ms = max(validity_period_ms, MIN_VALIDITY_MS)
        self._clock = clock
        self._cached: tuple[int, dict[str, Any], bytes] | None = None

    @property
    def signing_key(self) -> SigningKey:
        """The key this server signs requests and events with."""
        return self.keys.signing_key

    def build(self, now_ms: int) -> dict[str, Any]:
        """A freshly signed key response valid from ``now_ms`` for the validity period."""
        key = self.keys.signing_key
        body: dict[str, Any] = {
            "server_name": self.server_name,
            "valid_until_ts": now_ms + self.validity_period_ms,
            "verify_keys": {key.key_id: {"key": key.verify_key_base64}},
            "old_verify_keys": {
                old.key_id: {"key": old.public_key_base64, "expired_ts": old.expired_ts}
                for old in self.keys.old_verify_keys
                if old.key_id != key.key_id
            },
        }
        return sign_json(body, self.server_name, key)

    def _current(self) -> tuple[dict[str, Any], bytes]:
        now = self._clock()
        cached = self._cached
        if cached is None or now >= cached[0]:
            obj = self.build(now)
            refresh_at = now + self.validity_period_ms // 2
            cached = self._cached = (refresh_at, obj, encode_json(obj))
        return cached[1], cached[2]

    def response(self) -> dict[str, Any]:
        """The current signed response object (do not mutate)."""
        return self._current()[0]

    def response_bytes(self) -> bytes:
        """The current signed response, serialised."""
        return self._current()[1]
