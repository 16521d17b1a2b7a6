"""Server-Server API handlers (server-server-api), one module per area.

Every handler authenticates its caller with
:meth:`~ranvier.federation.inbound_auth.ServerAuthenticator.require_server` (the
``X-Matrix`` header) before doing anything, except ``/version``, which the spec leaves
open, and ``/openid/userinfo``, which third-party services call with an OpenID token.
The key endpoints live in :mod:`ranvier.api.keys`.
"""

FEDERATION_V1 = "/_matrix/federation/v1"
"""Prefix of the version 1 federation endpoints."""
