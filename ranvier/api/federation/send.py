"""``PUT /_matrix/federation/v1/send/{txnId}`` (server-server-api "Transactions",
transactions.yaml).

The handler authenticates the origin (X-Matrix), tells the outbound sender that the
origin is reachable again (its queue to that server is retried now rather than after
its back-off), and hands the body to
:class:`~ranvier.federation.transactions.TransactionProcessor`, whose answer is
``{"pdus": {event_id: {} | {"error": ...}}}``.
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.transactions import TransactionProcessor
from ranvier.http.parse import parse_json
from ranvier.http.types import Request, Response, json_response


class FederationSendApi:
    """Receives transactions from other servers."""

    def __init__(self, processor: TransactionProcessor, auth: ServerAuthenticator) -> None:
        self.processor = processor
        self.auth = auth

    async def send(self, request: Request) -> Response:
        """``PUT /send/{txnId}``."""
        origin = await self.auth.require_server(request)
        body = parse_json(request.body)
        answer = await self.processor.process(origin, request.path_params["txnId"], body)
        return json_response(answer)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("PUT", f"{FEDERATION_V1}/send/{{txnId}}", self.send)]
