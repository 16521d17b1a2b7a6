"""``GET /capabilities`` (client-server-api "Capabilities negotiation", capabilities.yaml)."""

from __future__ import annotations

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.core.room_versions import DEFAULT_ROOM_VERSION, KNOWN_ROOM_VERSIONS
from ranvier.http.types import Request, Response, json_response


def capabilities(threepid_changes: bool = False) -> dict[str, object]:
    """What this server lets clients do (independent of the user for now).

    ``m.3pid_changes`` is enabled when this server can validate email addresses, the
    only 3PIDs it can add to accounts.
    """
    return {
        "m.change_password": {"enabled": True},
        "m.room_versions": {
            "default": DEFAULT_ROOM_VERSION.identifier,
            "available": {
                rid: "stable" if rv.stable else "unstable"
                for rid, rv in KNOWN_ROOM_VERSIONS.items()
            },
        },
        "m.set_displayname": {"enabled": True},
        "m.set_avatar_url": {"enabled": True},
        "m.profile_fields": {"enabled": True},
        "m.3pid_changes": {"enabled": threepid_changes},
        "m.get_login_token": {"enabled": True},
    }


class CapabilitiesApi:
    """Serves ``GET /capabilities``."""

    def __init__(self, auth: Authenticator, *, threepid_changes: bool = False) -> None:
        self.auth = auth
        self.threepid_changes = threepid_changes

    async def get(self, request: Request) -> Response:
        """``GET /_matrix/client/v3/capabilities`` (authenticated)."""
        await self.auth.require_user(request)
        return json_response({"capabilities": capabilities(self.threepid_changes)})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V3}/capabilities", self.get)]
