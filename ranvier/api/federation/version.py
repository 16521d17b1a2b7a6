"""``GET /_matrix/federation/v1/version`` (server-server-api "Server implementation",
version.yaml): the implementation's name and version. No authentication is required."""

from __future__ import annotations

from ranvier import __version__
from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.http.types import Request, Response, json_response


class FederationVersionApi:
    """Serves the server implementation name and version."""

    def __init__(self) -> None:
        self._body = {"server": {"name": "ranvier", "version": __version__}}

    async def version(self, request: Request) -> Response:
        """``GET /version``."""
        return json_response(self._body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{FEDERATION_V1}/version", self.version)]
