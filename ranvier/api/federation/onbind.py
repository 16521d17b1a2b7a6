"""``/_matrix/federation/v1/3pid/onbind`` (server-server-api "Third-party invites",
third_party_invite.yaml ``onBindThirdPartyIdentifier``).

An identity server tells this server that one of its users bound a third-party
identifier, with the pending room invites of that identifier; each is exchanged for a
real invite by :meth:`ranvier.rooms.third_party_invites.ThirdPartyInvites.on_bind`.
The caller is an identity server, not a homeserver, so there is no X-Matrix
authentication (the spec defines none); what makes an invite valid is the identity
server's signature in each ``signed`` object, which the auth rules check. The spec
says ``PUT``; identity servers (Sydent) and Sytest send ``POST``: both are routed.
Answer: ``{}``, or the error of the last invite that could not be exchanged.
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.http.parse import parse_json_body
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.third_party_invites import ThirdPartyInvites


class OnBindApi:
    """Serves ``/3pid/onbind``."""

    def __init__(self, third_party: ThirdPartyInvites) -> None:
        self.third_party = third_party

    async def on_bind(self, request: Request) -> Response:
        """``PUT``/``POST /3pid/onbind``."""
        await self.third_party.on_bind(parse_json_body(request))
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        path = f"{FEDERATION_V1}/3pid/onbind"
        return [("PUT", path, self.on_bind), ("POST", path, self.on_bind)]
