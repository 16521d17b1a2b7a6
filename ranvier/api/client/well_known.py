"""``/.well-known/matrix/client`` and ``/.well-known/matrix/server`` (client-server-api
"Well-known URIs", wellknown.yaml; server-server-api "Server discovery").

Answered from ``global.well_known_client_name`` / ``well_known_server_name``; when
not configured, 404 ``M_NOT_FOUND`` so clients ``IGNORE`` the mechanism (status 404
is what the discovery algorithm tests for).
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.http.types import MatrixError, Request, Response, json_response


class WellKnownApi:
    """Serves the two discovery documents."""

    def __init__(self, client_base_url: str, server_name: str) -> None:
        self.client_base_url = client_base_url
        self.server_name = server_name

    async def client(self, request: Request) -> Response:
        """``GET /.well-known/matrix/client``."""
        if not self.client_base_url:
            raise MatrixError(404, "M_NOT_FOUND", "No client discovery information")
        return json_response({"m.homeserver": {"base_url": self.client_base_url}})

    async def server(self, request: Request) -> Response:
        """``GET /.well-known/matrix/server``."""
        if not self.server_name:
            raise MatrixError(404, "M_NOT_FOUND", "No server delegation configured")
        return json_response({"m.server": self.server_name})

    def well_known_for_login(self) -> dict[str, object] | None:
        """The ``well_known`` object to embed in the /login response, if configured."""
        if not self.client_base_url:
            return None
        return {"m.homeserver": {"base_url": self.client_base_url}}

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", "/.well-known/matrix/client", self.client),
            ("GET", "/.well-known/matrix/server", self.server),
        ]
