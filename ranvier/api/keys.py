"""The key server and notary endpoints under ``/_matrix/key/v2``.

Spec: server-server-api "Publishing Keys" (``GET /_matrix/key/v2/server``, keys_server.yaml)
and "Querying Keys Through Another Server" (``GET /_matrix/key/v2/query/{serverName}``,
``POST /_matrix/key/v2/query``, keys_query.yaml).

These endpoints need no request authentication: anyone may ask for keys. Our own key
response is served from the bytes cached by
:class:`~ranvier.federation.local_keys.LocalServerKeys`; notary answers come from
:meth:`~ranvier.federation.keyring.Keyring.notary_answer`, co-signed by this server.
When ``minimum_valid_until_ts`` is not given, a cached response is good while it is
within the first half of its lifetime (so never past its ``valid_until_ts``: the spec's
"the current time" default); an empty ``server_keys`` gives an empty list, and servers
that cannot be reached and were never cached are left out. The old
``GET /query/{serverName}/{keyId}`` form (removed from the spec, still asked by Synapse
and Sytest) is answered as a query for that one key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ranvier.api.client.common import RouteDef
from ranvier.core.ids import InvalidIdentifier, parse_server_name
from ranvier.federation.keyring import Keyring
from ranvier.federation.local_keys import LocalServerKeys
from ranvier.http.parse import parse_json_body, query_int
from ranvier.http.types import MatrixError, Request, Response, json_response

KEY_V2 = "/_matrix/key/v2"
MAX_QUERY_SERVERS = 100
"""Servers one ``POST /query`` may ask about (each may cost a remote fetch)."""


def _check_server_name(name: Any) -> str:
    if not isinstance(name, str):
        raise MatrixError(400, "M_INVALID_PARAM", "Server names must be strings")
    try:
        parse_server_name(name)
    except InvalidIdentifier as e:
        raise MatrixError(400, "M_INVALID_PARAM", f"Invalid server name: {e}") from None
    return name


class KeysApi:
    """Serves our keys and answers notary queries."""

    def __init__(self, local: LocalServerKeys, keyring: Keyring) -> None:
        self.local = local
        self.keyring = keyring

    async def server_keys(self, request: Request) -> Response:
        """``GET /_matrix/key/v2/server``."""
        return Response(status=200, body=self.local.response_bytes())

    async def query_one(self, request: Request) -> Response:
        """``GET /_matrix/key/v2/query/{serverName}`` (and the old ``/{keyId}`` form)."""
        server = _check_server_name(request.path_params["serverName"])
        minimum = query_int(request, "minimum_valid_until_ts", minimum=0)
        key_id = request.path_params.get("keyId")
        if key_id:
            answers = await self.keyring.notary_answer(server, {key_id: minimum})
        else:
            answers = await self.keyring.notary_answer(server, {}, minimum)
        return json_response({"server_keys": answers})

    async def query_many(self, request: Request) -> Response:
        """``POST /_matrix/key/v2/query``."""
        body = parse_json_body(request)
        criteria = body.get("server_keys")
        if not isinstance(criteria, dict):
            raise MatrixError(400, "M_BAD_JSON", "'server_keys' must be an object")
        if len(criteria) > MAX_QUERY_SERVERS:
            raise MatrixError(400, "M_LIMIT_EXCEEDED", "Too many servers in one query")
        jobs = []
        for server, keys in criteria.items():
            _check_server_name(server)
            if not isinstance(keys, dict):
                raise MatrixError(400, "M_BAD_JSON", "Key criteria must be objects")
            wanted: dict[str, int | None] = {}
            for key_id, criterion in keys.items():
                value = (
                    criterion.get("minimum_valid_until_ts") if isinstance(criterion, dict) else None
                )
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise MatrixError(
                        400, "M_BAD_JSON", "minimum_valid_until_ts must be an integer"
                    )
                wanted[key_id] = value
            jobs.append(self.keyring.notary_answer(server, wanted))
        results = await asyncio.gather(*jobs)
        return json_response({"server_keys": [r for answers in results for r in answers]})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{KEY_V2}/server", self.server_keys),
            # The old form with a key id (removed from the spec; Synapse and Sytest still
            # ask it): the id was always ignored and every key returned.
            ("GET", f"{KEY_V2}/server/{{keyId}}", self.server_keys),
            ("GET", f"{KEY_V2}/query/{{serverName}}", self.query_one),
            ("GET", f"{KEY_V2}/query/{{serverName}}/{{keyId}}", self.query_one),
            ("POST", f"{KEY_V2}/query", self.query_many),
        ]
