"""Server-side key backup endpoints (client-server-api "Server-side key backups",
key_backup.yaml): ``/room_keys/version[/{version}]`` and
``/room_keys/keys[/{roomId}[/{sessionId}]]?version=``. Handlers parse and delegate to
:class:`ranvier.e2ee.backup.KeyBackups`.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.e2ee.backup import KeyBackups, SessionKey, parse_session
from ranvier.e2ee.keys import reject_nul
from ranvier.http.parse import parse_json_body, query_str
from ranvier.http.types import MatrixError, Request, Response, json_response


def _sessions(value: object, where: str) -> dict[str, SessionKey]:
    if not isinstance(value, dict):
        raise MatrixError(400, "M_BAD_JSON", f"'{where}' must be an object")
    return {str(sid): parse_session(data) for sid, data in value.items()}


class RoomKeysApi:
    """Serves the key backup endpoints."""

    def __init__(self, backups: KeyBackups) -> None:
        self.backups = backups

    async def create_version(self, request: Request) -> Response:
        """``POST /room_keys/version``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        body = parse_json_body(request)
        reject_nul(body)
        algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
        # auth_data is an object for the spec's algorithm; other algorithms (and Sytest)
        # use other JSON values, kept as given.
        if not isinstance(algorithm, str) or auth_data is None:
            raise MatrixError(400, "M_BAD_JSON", "'algorithm' and 'auth_data' are required")
        version = await self.backups.create_version(requester.user_id, algorithm, auth_data)
        return json_response({"version": version})

    async def get_version(self, request: Request) -> Response:
        """``GET /room_keys/version[/{version}]``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        version = request.path_params.get("version")
        return json_response(await self.backups.get_version(requester.user_id, version))

    async def put_version(self, request: Request) -> Response:
        """``PUT /room_keys/version/{version}``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        body = parse_json_body(request)
        reject_nul(body)
        await self.backups.update_version(requester.user_id, request.path_params["version"], body)
        return json_response({})

    async def delete_version(self, request: Request) -> Response:
        """``DELETE /room_keys/version/{version}``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        await self.backups.delete_version(requester.user_id, request.path_params["version"])
        return json_response({})

    async def put_keys(self, request: Request) -> Response:
        """``PUT /room_keys/keys[/{roomId}[/{sessionId}]]?version=``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        version = query_str(request, "version")
        reject_nul(version, "version")
        body = parse_json_body(request)
        reject_nul(body)
        room_id = request.path_params.get("roomId")
        session_id = request.path_params.get("sessionId")
        keys: list[tuple[str, str, SessionKey]] = []
        if room_id is not None and session_id is not None:
            keys.append((room_id, session_id, parse_session(body)))
        elif room_id is not None:
            keys += [
                (room_id, s, k) for s, k in _sessions(body.get("sessions"), "sessions").items()
            ]
        else:
            rooms = body.get("rooms")
            if not isinstance(rooms, dict):
                raise MatrixError(400, "M_BAD_JSON", "'rooms' must be an object")
            for rid, room in rooms.items():
                if not isinstance(room, dict):
                    raise MatrixError(400, "M_BAD_JSON", "each room must be an object")
                keys += [(rid, s, k) for s, k in _sessions(room.get("sessions"), rid).items()]
        return json_response(await self.backups.put_keys(requester.user_id, version, keys))

    async def get_keys(self, request: Request) -> Response:
        """``GET /room_keys/keys[/{roomId}[/{sessionId}]]?version=``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        version = query_str(request, "version")
        reject_nul(version, "version")
        room_id = request.path_params.get("roomId")
        session_id = request.path_params.get("sessionId")
        found = await self.backups.get_keys(requester.user_id, version, room_id, session_id)
        if room_id is not None and session_id is not None:
            key = found.get(room_id, {}).get(session_id)
            if key is None:
                raise MatrixError(404, "M_NOT_FOUND", "No backup of this session")
            return json_response(key.to_json())
        if room_id is not None:
            sessions = found.get(room_id, {})
            return json_response({"sessions": {s: k.to_json() for s, k in sessions.items()}})
        return json_response(
            {
                "rooms": {
                    r: {"sessions": {s: k.to_json() for s, k in by_session.items()}}
                    for r, by_session in found.items()
                }
            }
        )

    async def delete_keys(self, request: Request) -> Response:
        """``DELETE /room_keys/keys[/{roomId}[/{sessionId}]]?version=``."""
        requester = await require_user(request)
        reject_nul(dict(request.path_params), "path")
        version = query_str(request, "version")
        reject_nul(version, "version")
        out = await self.backups.delete_keys(
            requester.user_id,
            version,
            request.path_params.get("roomId"),
            request.path_params.get("sessionId"),
        )
        return json_response(out)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        base = f"{V3}/room_keys"
        out: list[RouteDef] = [
            ("POST", f"{base}/version", self.create_version),
            ("GET", f"{base}/version", self.get_version),
            ("GET", f"{base}/version/{{version}}", self.get_version),
            ("PUT", f"{base}/version/{{version}}", self.put_version),
            ("DELETE", f"{base}/version/{{version}}", self.delete_version),
        ]
        for path in ("keys", "keys/{roomId}", "keys/{roomId}/{sessionId}"):
            out += [
                ("PUT", f"{base}/{path}", self.put_keys),
                ("GET", f"{base}/{path}", self.get_keys),
                ("DELETE", f"{base}/{path}", self.delete_keys),
            ]
        return out
