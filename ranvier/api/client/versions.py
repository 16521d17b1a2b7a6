"""``GET /_matrix/client/versions`` (client-server-api "API Versions", versions.yaml).

Only spec versions whose endpoints this server actually serves are advertised. Each
version lists the endpoints it introduced (the first, v1.1, lists the core API that
versions before it already required); version N is advertised when every endpoint of
versions up to N is routed. The check runs once, on the first request, against the
finished route table, so components that add routes are counted without this module
knowing about them.
"""

from __future__ import annotations

from collections.abc import Callable

from ranvier.api.client.common import CLIENT, RouteDef
from ranvier.http.types import Request, Response, json_response

_C3 = "/_matrix/client/v3"
_C1 = "/_matrix/client/v1"

# (version, endpoints added in it) - sample paths with concrete parameter values.
REQUIREMENTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "v1.1",
        (
            ("GET", f"{_C3}/login"),
            ("POST", f"{_C3}/login"),
            ("POST", f"{_C3}/register"),
            ("POST", f"{_C3}/logout"),
            ("GET", f"{_C3}/account/whoami"),
            ("GET", f"{_C3}/capabilities"),
            ("GET", f"{_C3}/sync"),
            ("POST", f"{_C3}/user/@u:x/filter"),
            ("POST", f"{_C3}/createRoom"),
            ("POST", f"{_C3}/join/!r:x"),
            ("POST", f"{_C3}/rooms/!r:x/leave"),
            ("POST", f"{_C3}/rooms/!r:x/invite"),
            ("POST", f"{_C3}/knock/!r:x"),
            ("PUT", f"{_C3}/rooms/!r:x/send/m.room.message/t"),
            ("GET", f"{_C3}/rooms/!r:x/state"),
            ("PUT", f"{_C3}/rooms/!r:x/state/m.room.name/"),
            ("GET", f"{_C3}/rooms/!r:x/messages"),
            ("GET", f"{_C3}/rooms/!r:x/members"),
            ("PUT", f"{_C3}/rooms/!r:x/redact/e/t"),
            ("GET", f"{_C3}/profile/@u:x"),
            ("GET", f"{_C3}/devices"),
            ("PUT", f"{_C3}/user/@u:x/account_data/t"),
            ("GET", f"{_C3}/pushrules/"),
            ("POST", f"{_C3}/keys/upload"),
            ("POST", f"{_C3}/keys/query"),
            ("PUT", f"{_C3}/sendToDevice/t/1"),
            ("GET", f"{_C3}/directory/room/%23a:x"),
            ("POST", "/_matrix/media/v3/upload"),
        ),
    ),
    ("v1.2", (("GET", f"{_C1}/register/m.login.registration_token/validity"),)),
    ("v1.3", (("POST", f"{_C3}/refresh"), ("GET", f"{_C1}/rooms/!r:x/relations/e"))),
    ("v1.4", (("GET", f"{_C1}/rooms/!r:x/threads"),)),
    ("v1.5", ()),
    ("v1.6", (("GET", f"{_C1}/rooms/!r:x/timestamp_to_event"),)),
    ("v1.7", (("POST", "/_matrix/media/v1/create"),)),
    ("v1.8", ()),
    ("v1.9", ()),
    ("v1.10", ()),
    ("v1.11", (("GET", f"{_C1}/media/download/x/m"),)),
)

RouteProbe = Callable[[str, str], bool]
"""``probe(method, path) -> True`` if the router serves that request."""


def supported_versions(probe: RouteProbe) -> list[str]:
    """The longest prefix of :data:`REQUIREMENTS` whose endpoints are all routed."""
    out: list[str] = []
    for version, endpoints in REQUIREMENTS:
        if not all(probe(method, path) for method, path in endpoints):
            break
        out.append(version)
    return out


class VersionsApi:
    """Serves the version list, computed on first use."""

    def __init__(self, probe: RouteProbe) -> None:
        self._probe = probe
        self._cached: Response | None = None

    async def versions(self, request: Request) -> Response:
        """``GET /_matrix/client/versions`` (no authentication)."""
        if self._cached is None:
            self._cached = json_response(
                {"versions": supported_versions(self._probe), "unstable_features": {}}
            )
        return self._cached

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{CLIENT}/versions", self.versions)]
