"""Profiles of users on other servers, asked of their server for local clients.

Spec: client-server-api "Profiles" (``GET /profile/{userId}`` and
``GET /profile/{userId}/{keyName}``, profile.yaml: "this API may return profile
information for users on other homeservers"), server-server-api "Querying for
information" (``GET /_matrix/federation/v1/query/profile``, query.yaml).

Theory of operation: :meth:`RemoteProfiles.query` asks the user's server with
``/query/profile?user_id=...[&field=...]`` and returns its JSON object as the profile.
Nothing is cached: the answer is what that server says now. Failures become the
client's error:

* the remote server answers 403: 403 ``M_FORBIDDEN`` (it will not disclose the
  profile, profile.yaml's 403);
* it answers any other 4xx (404, or 400 for a user it does not host): 404
  ``M_NOT_FOUND``;
* it cannot be reached, fails with a 5xx, or answers something that is not an
  object: 502 ``M_UNKNOWN`` (the profile cannot be had; profile.yaml lists no code for
  this, a gateway error says what happened, as Synapse does).

``displayname`` and ``avatar_url`` must be strings or null when present; other keys
(custom profile fields, v1.16) are passed on as given.
"""

from __future__ import annotations

import logging

from ranvier.core.events import JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.client import FederationClient, RemoteError, Unreachable
from ranvier.http.types import MatrixError

logger = logging.getLogger(__name__)

QUERY_PATH = "/_matrix/federation/v1/query/profile"
QUERY_TIMEOUT_S = 20.0
_STRING_FIELDS = ("displayname", "avatar_url")


class RemoteProfiles:
    """Asks other servers for the profiles of their users (module docstring)."""

    def __init__(self, client: FederationClient, server_name: str) -> None:
        self.client = client
        self.server_name = server_name

    async def query(self, user_id: str, field: str | None = None) -> JsonDict:
        """The profile of ``user_id`` (a user of another server), or only ``field`` of
        it as that server answers; raises :class:`MatrixError` (module docstring)."""
        try:
            server = server_name_of(user_id)
        except (InvalidIdentifier, ValueError):
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid user ID") from None
        if server == self.server_name:
            raise ValueError("a local user's profile is not asked over federation")
        query = {"user_id": user_id} if field is None else {"user_id": user_id, "field": field}
        try:
            answer = await self.client.get_json(
                server, QUERY_PATH, query, timeout_s=QUERY_TIMEOUT_S
            )
        except RemoteError as exc:
            logger.info("profile of %s: %s answered %s", user_id, server, exc)
            if exc.status == 403:
                raise MatrixError(403, "M_FORBIDDEN", exc.error or "Profile refused") from None
            if 400 <= exc.status < 500:
                raise MatrixError(404, "M_NOT_FOUND", "Profile not found") from None
            raise MatrixError(502, "M_UNKNOWN", f"{server} failed: {exc}") from None
        except Unreachable as exc:
            logger.info("profile of %s: cannot reach %s: %s", user_id, server, exc)
            raise MatrixError(502, "M_UNKNOWN", f"Cannot reach {server}") from None
        if not isinstance(answer, dict):
            raise MatrixError(502, "M_UNKNOWN", f"{server} answered no profile")
        for key in _STRING_FIELDS:
            if key in answer and answer[key] is not None and not isinstance(answer[key], str):
                raise MatrixError(502, "M_UNKNOWN", f"{server} answered a bad {key}")
        return answer
