"""The keyring: remote servers' signing keys, fetched, checked, cached, and vouched for.

Spec: server-server-api "Retrieving server keys" (direct ``GET /_matrix/key/v2/server``,
"Querying Keys Through Another Server" with ``POST /_matrix/key/v2/query``),
"Validating hashes and signatures on received events", "Request Authentication";
appendices "Checking for a Signature"; rooms/v5 "Signing key validity period".

Theory of operation
-------------------
:meth:`Keyring.get_key` answers "which public key is ``server``'s ``key_id``, good for
something signed at ``at_ts``?". It looks in memory (each server's keys are loaded
from the database on first use), and when the key is unknown or no longer valid for
``at_ts`` it fetches the server's keys, asking for ``minimum_valid_until_ts = at_ts``
so notaries refresh stale answers:

* from the notaries of ``federation_api.key_perspectives`` (their answer must carry a
  signature of a key configured for them, and each server's response inside it must
  still be self-signed, :mod:`.key_response`), and
* directly from the server (its response must be for that server and self-signed),

notaries first unless ``prefer_direct_fetch`` (or none is configured); the second
source is only asked when the first did not produce the key. Every good response
is stored (:mod:`.key_store`), so restarts and notary answers can use it.

Concurrent lookups for one server share one fetch. A fetch that does not produce
the wanted key starts a back-off for that server (doubling from ``backoff_base_ms``
to ``backoff_max_ms``), during which lookups of unknown keys fail at once instead
of hammering the server; a successful fetch clears it.

:meth:`verify_json` applies "Checking for a Signature" with these keys: the object
must carry a signature of the server with at least one known key valid at
``at_ts``, and every such signature must verify (unknown and expired keys are
skipped, as the event rules ask). For requests pass ``allow_old=False``: keys
from ``old_verify_keys`` only ever sign events.

:meth:`notary_answer` serves ``/_matrix/key/v2/query``: the stored responses a
server gave us itself that hold the keys asked for (every one when none is named),
each co-signed with our key. The server is asked again first when a key asked for
was never seen, or its newest response is not valid until the
``minimum_valid_until_ts`` asked for, or -- no minimum given -- is past half its
lifetime (the spec has notaries cache responses; Synapse's notary decides the same
way). That fetch ignores the back-off: each query asks at most once, concurrent ones
share it. A key the server no longer lists is never forgotten -- a later response
without it adds its own keys and leaves the old row alone -- and when the server
cannot be reached, or answers with keys that are no better, the last responses are
still served, expired or not, so the signatures of its old events stay checkable.
Our own server's answer is our current key response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ranvier.config.schema import KeyPerspective
from ranvier.core.b64 import decode_base64
from ranvier.core.signing import (
    SignatureError,
    sign_json,
    signature_key_ids,
    verify_json_signature,
)
from ranvier.federation.client import FederationClient, FederationError
from ranvier.federation.key_response import (
    KeyResponseError,
    ServerKey,
    check_notary_signature,
    parse_key_response,
)
from ranvier.federation.key_store import KeyStore, StoredResponse
from ranvier.federation.local_keys import LocalServerKeys

logger = logging.getLogger(__name__)

KEY_SERVER_PATH = "/_matrix/key/v2/server"
KEY_QUERY_PATH = "/_matrix/key/v2/query"
FETCH_TIMEOUT_S = 30.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class Keyring:
    """Remote signing keys for request and event verification, and the notary role."""

    def __init__(
        self,
        local: LocalServerKeys,
        store: KeyStore,
        client: FederationClient,
        *,
        perspectives: Iterable[KeyPerspective] = (),
        prefer_direct_fetch: bool = False,
        backoff_base_ms: int = 10_000,
        backoff_max_ms: int = 60 * 60 * 1000,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.local = local
        self.server_name = local.server_name
        self.store = store
        self.client = client
        self.notaries: dict[str, dict[str, bytes]] = {}
        for p in perspectives:
            self.notaries[p.server_name] = {k.key_id: decode_base64(k.public_key) for k in p.keys}
        self.prefer_direct_fetch = prefer_direct_fetch
        self.backoff_base_ms = backoff_base_ms
        self.backoff_max_ms = backoff_max_ms
        self.clock = clock
        self._keys: dict[str, dict[str, ServerKey]] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._backoff: dict[str, tuple[int, int]] = {}
        """server -> (failures in a row, time before which no fetch is made)."""
        self.fetches = 0
        """How many fetches were started (for tests and metrics)."""

    # -- lookups ---------------------------------------------------------------------

    def _own_keys(self) -> dict[str, ServerKey]:
        now = self.clock()
        key = self.local.signing_key
        far = 2**62
        out = {
            key.key_id: ServerKey(
                self.server_name, key.key_id, key.verify_key_bytes, far, None, now, self.server_name
            )
        }
        for old in self.local.keys.old_verify_keys:
            if old.key_id not in out:
                out[old.key_id] = ServerKey(
                    self.server_name,
                    old.key_id,
                    decode_base64(old.public_key_base64),
                    far,
                    old.expired_ts,
                    now,
                    self.server_name,
                )
        return out

    async def _known(self, server: str) -> dict[str, ServerKey]:
        if server == self.server_name:
            return self._own_keys()
        keys = self._keys.get(server)
        if keys is None:
            keys = {k.key_id: k for k in await self.store.keys_for(server)}
            self._keys.setdefault(server, keys)
            keys = self._keys[server]
        return keys

    @staticmethod
    def _usable(key: ServerKey | None, at_ts: int, enforce_validity: bool, allow_old: bool) -> bool:
        if key is None or (key.expired_ts is not None and not allow_old):
            return False
        return key.valid_at(at_ts, enforce_validity=enforce_validity)

    async def get_key(
        self,
        server: str,
        key_id: str,
        *,
        at_ts: int | None = None,
        enforce_validity: bool = True,
        allow_old: bool = True,
    ) -> ServerKey | None:
        """``server``'s key ``key_id`` if it is valid at ``at_ts`` (default: now),
        fetching it when needed; None when it cannot be had."""
        found = await self.get_keys(
            server,
            [key_id],
            at_ts=at_ts,
            enforce_validity=enforce_validity,
            allow_old=allow_old,
        )
        return found.get(key_id)

    async def get_keys(
        self,
        server: str,
        key_ids: Iterable[str],
        *,
        at_ts: int | None = None,
        enforce_validity: bool = True,
        allow_old: bool = True,
    ) -> dict[str, ServerKey]:
        """The usable keys among ``key_ids`` (one fetch at most for the missing ones)."""
        ts = self.clock() if at_ts is None else at_ts
        wanted = list(dict.fromkeys(key_ids))
        known = await self._known(server)
        missing = [
            k for k in wanted if not self._usable(known.get(k), ts, enforce_validity, allow_old)
        ]
        # A key known to have expired before ``ts`` never becomes valid again: no fetch.
        fetchable = [k for k in missing if known.get(k) is None or known[k].expired_ts is None]
        if fetchable and server != self.server_name:
            await self._fetch(server, fetchable, ts if enforce_validity else 0)
            known = await self._known(server)
        return {
            k: known[k]
            for k in wanted
            if self._usable(known.get(k), ts, enforce_validity, allow_old)
        }

    async def verify_json(
        self,
        obj: Mapping[str, Any],
        server: str,
        *,
        at_ts: int | None = None,
        enforce_validity: bool = True,
        allow_old: bool = True,
    ) -> None:
        """Check ``server``'s signatures on ``obj`` (appendices "Checking for a
        Signature"). Raises :class:`SignatureError`."""
        key_ids = signature_key_ids(obj, server)
        if not key_ids:
            raise SignatureError(f"no ed25519 signature from {server}")
        keys = await self.get_keys(
            server, key_ids, at_ts=at_ts, enforce_validity=enforce_validity, allow_old=allow_old
        )
        if not keys:
            raise SignatureError(f"no valid key of {server} known for {', '.join(key_ids)}")
        for key_id, key in keys.items():
            verify_json_signature(obj, server, key_id, key.verify_key)

    # -- fetching --------------------------------------------------------------------

    async def _fetch(
        self,
        server: str,
        key_ids: list[str],
        minimum_valid_until_ts: int,
        *,
        ignore_backoff: bool = False,
    ) -> None:
        task = self._inflight.get(server)
        if task is None:
            backoff = self._backoff.get(server)
            if not ignore_backoff and backoff is not None and self.clock() < backoff[1]:
                return
            self.fetches += 1
            task = asyncio.get_running_loop().create_task(
                self._fetch_now(server, key_ids, minimum_valid_until_ts)
            )
            self._inflight[server] = task
            task.add_done_callback(lambda _t: self._inflight.pop(server, None))
        await asyncio.shield(task)

    async def _fetch_now(self, server: str, key_ids: list[str], minimum: int) -> None:
        sources = [self._fetch_direct, self._fetch_from_notaries]
        if self.notaries and not self.prefer_direct_fetch:
            sources.reverse()
        got = False
        for source in sources:
            try:
                await source(server, key_ids, minimum)
            except (FederationError, KeyResponseError) as e:
                logger.info("key fetch for %s via %s failed: %s", server, source.__name__, e)
            except Exception:
                logger.exception("key fetch for %s via %s failed", server, source.__name__)
            known = self._keys.get(server, {})
            if all(k in known and known[k].valid_at(minimum) for k in key_ids):
                got = True
                break
        if got:
            self._backoff.pop(server, None)
        else:
            failures = self._backoff.get(server, (0, 0))[0] + 1
            delay = min(self.backoff_base_ms * 2 ** (failures - 1), self.backoff_max_ms)
            self._backoff[server] = (failures, self.clock() + delay)

    async def _remember(self, keys: list[ServerKey], response: dict[str, Any]) -> None:
        if not keys:
            return
        server = keys[0].server_name
        await self.store.store_response(keys, response)
        mem = self._keys.setdefault(server, {})
        for k in keys:
            old = mem.get(k.key_id)
            if old is None or old.valid_until_ts <= k.valid_until_ts:
                mem[k.key_id] = k

    async def _fetch_direct(self, server: str, key_ids: list[str], minimum: int) -> None:
        response = await self.client.get_json(
            server, KEY_SERVER_PATH, sign=False, timeout_s=FETCH_TIMEOUT_S
        )
        keys = parse_key_response(
            response, expected_server=server, fetched_ts=self.clock(), from_server=server
        )
        await self._remember(keys, response)

    async def _fetch_from_notaries(self, server: str, key_ids: list[str], minimum: int) -> None:
        criteria = {k: {"minimum_valid_until_ts": minimum} for k in key_ids}
        for notary, trusted in self.notaries.items():
            try:
                answer = await self.client.post_json(
                    notary,
                    KEY_QUERY_PATH,
                    {"server_keys": {server: criteria}},
                    timeout_s=FETCH_TIMEOUT_S,
                )
            except FederationError as e:
                logger.info("notary %s failed for %s: %s", notary, server, e)
                continue
            entries = answer.get("server_keys") if isinstance(answer, dict) else None
            if not isinstance(entries, list):
                logger.info("notary %s gave a malformed answer", notary)
                continue
            for entry in entries:
                if not isinstance(entry, dict) or entry.get("server_name") != server:
                    continue
                try:
                    check_notary_signature(entry, notary, trusted)
                    keys = parse_key_response(
                        entry, expected_server=server, fetched_ts=self.clock(), from_server=notary
                    )
                except KeyResponseError as e:
                    logger.info("notary %s answer for %s refused: %s", notary, server, e)
                    continue
                await self._remember(keys, entry)
            known = self._keys.get(server, {})
            if all(k in known and known[k].valid_at(minimum) for k in key_ids):
                return

    # -- notary role -----------------------------------------------------------------

    async def notary_answer(
        self,
        server: str,
        criteria: Mapping[str, int | None],
        minimum_valid_until_ts: int | None = None,
    ) -> list[dict[str, Any]]:
        """The key responses to return for ``server`` in a notary query, co-signed.

        ``criteria`` maps each key id asked for to the ``minimum_valid_until_ts`` asked
        with it (None: not given); empty, every key is wanted, with
        ``minimum_valid_until_ts`` for all (keys_query.yaml, GET and POST forms)."""
        if server == self.server_name:
            return [self.local.response()]
        stored = await self._responses_from_itself(server)
        if self._notary_miss(stored, criteria, minimum_valid_until_ts):
            given = [m for m in (*criteria.values(), minimum_valid_until_ts) if m is not None]
            await self._fetch(
                server, list(criteria), max(given, default=self.clock()), ignore_backoff=True
            )
            stored = await self._responses_from_itself(server)
        if criteria:
            stored = [s for s in stored if any(k in _listed_keys(s.response) for k in criteria)]
        key = self.local.signing_key
        return [
            sign_json(_strip_foreign(s.response, server), self.server_name, key) for s in stored
        ]

    async def _responses_from_itself(self, server: str) -> list[StoredResponse]:
        """The responses ``server`` gave us itself (not through a notary), newest first."""
        return [s for s in await self.store.responses_for(server) if s.from_server == server]

    def _notary_miss(
        self,
        stored: list[StoredResponse],
        criteria: Mapping[str, int | None],
        minimum: int | None,
    ) -> bool:
        """Whether a notary query must ask the server again (module docstring)."""
        now = self.clock()

        def stale(response: StoredResponse, wanted: int | None) -> bool:
            if wanted is not None:
                return response.valid_until_ts < wanted
            return (response.fetched_ts + response.valid_until_ts) // 2 < now

        if not criteria:
            return not stored or stale(stored[0], minimum)
        for key_id, wanted in criteria.items():
            holding = [s for s in stored if key_id in _listed_keys(s.response)]
            if not holding or stale(holding[0], wanted):
                return True
        return False


def _listed_keys(response: Mapping[str, Any]) -> set[str]:
    """The key ids a key response lists, current and old."""
    out: set[str] = set()
    for field in ("verify_keys", "old_verify_keys"):
        keys = response.get(field)
        if isinstance(keys, dict):
            out.update(k for k in keys if isinstance(k, str))
    return out


def _strip_foreign(response: dict[str, Any], server: str) -> dict[str, Any]:
    """The response with only ``server``'s own signatures (we vouch; others may not)."""
    sigs = response.get("signatures")
    own = sigs.get(server) if isinstance(sigs, dict) else None
    out = dict(response)
    out["signatures"] = {server: dict(own)} if isinstance(own, dict) else {}
    return out
