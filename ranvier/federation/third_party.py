"""``PUT /_matrix/federation/v1/exchange_third_party_invite/{roomId}``: turning a
third-party invite into a real invite, as the room's resident server.

Spec: server-server-api "Third-party invites" (third_party_invite.yaml); client-server-api
"Third-party invites" and the ``m.room.member`` auth rules for ``third_party_invite``.

When the invited third party binds their identifier, the invitee's server (told by the
identity server through ``/3pid/onbind``) sends the resident server a partial invite
event: sender = the user who made the ``m.room.third_party_invite``, state key = the
invited Matrix user, content with ``third_party_invite.signed`` (the identity server's
signed ``{mxid, sender, token}``). This server checks the shape (400 ``M_BAD_JSON`` /
``M_INVALID_PARAM``), that the room exists and is joined (404) and its ACL lets the asking
server in (403), that the sender is one of its users (the resident server is the one that
issued the third-party invite), and then sends the invite through its own room input as
that user. With :attr:`ThirdPartyExchange.prepare` set (the composition root sets
:meth:`ranvier.rooms.third_party_invites.ThirdPartyInvites.invite_content`), the content
is rebuilt after "Verifying the invite": the ``m.room.third_party_invite`` named by the
token, its sender, the signature, and the key's ``key_validity_url`` (the resident server
"MUST verify ... the ``key_validity_url`` as still being valid"), with the
``display_name`` of the ``m.room.third_party_invite`` filled in. The auth rules check
again: a matching ``m.room.third_party_invite`` by the same sender must be in the room's
state and ``signed`` must verify with one of its public keys (403 ``M_FORBIDDEN``
otherwise). An invitee on another server gets the invite countersigned like any remote
invite (:mod:`.invites`). Answer: ``{}``.

The other direction (asking a resident server to exchange a third-party invite for one
of our users, after ``/3pid/onbind``) is in :mod:`ranvier.rooms.third_party_invites`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.core.ids import InvalidIdentifier, parse_user_id, server_name_of
from ranvier.federation.client import FederationClient, FederationError, RemoteError, path_segment
from ranvier.federation.room_data import RoomData
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.pipeline import LocalEvent, RoomInput
from ranvier.rooms.remote import RemoteInput

PrepareInvite = Callable[[RoomInfo, str, str, Any], Awaitable[dict[str, Any]]]
"""``await prepare(room, sender, target, signed)`` -> the verified invite content."""


class ThirdPartyExchange:
    """Exchanges third-party invites for invites (module docstring)."""

    def __init__(self, room_input: RoomInput, remote: RemoteInput, data: RoomData) -> None:
        self.room_input = room_input
        self.remote = remote
        self.data = data
        self.server_name = data.server_name
        self.prepare: PrepareInvite | None = None
        """Verifies the invite and builds its content (module docstring)."""

    async def exchange(self, origin: str, room_id: str, body: Any) -> None:
        """Check the partial invite and send the invite (module docstring)."""
        if not isinstance(body, dict):
            raise MatrixError(400, "M_BAD_JSON", "Body must be an object")
        content = body.get("content")
        sender, target = body.get("sender"), body.get("state_key")
        if (
            body.get("type") != "m.room.member"
            or body.get("room_id") != room_id
            or not isinstance(content, dict)
            or content.get("membership") != "invite"
            or not isinstance(sender, str)
            or not isinstance(target, str)
        ):
            raise MatrixError(400, "M_BAD_JSON", "Not a partial invite event for this room")
        tpi = content.get("third_party_invite")
        if not isinstance(tpi, dict) or not isinstance(tpi.get("signed"), dict):
            raise MatrixError(400, "M_BAD_JSON", "content.third_party_invite.signed is required")
        try:
            parse_user_id(sender)
            parse_user_id(target)
            local_sender = server_name_of(sender) == self.server_name
        except (InvalidIdentifier, ValueError):
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid user id") from None
        if not local_sender:
            raise MatrixError(400, "M_INVALID_PARAM", "The inviter is not a user of this server")
        room = await self.data.room_for(room_id, origin)
        if not await self.remote.is_joined(room):
            raise MatrixError(404, "M_NOT_FOUND", "This server is not in the room")
        if self.prepare is not None:
            content = await self.prepare(room, sender, target, tpi.get("signed"))
        await self.room_input.submit(room, LocalEvent(sender, "m.room.member", content, target))


async def ask_exchange(
    client: FederationClient, destination: str, room_id: str, partial: dict[str, Any]
) -> None:
    """Ask ``destination`` (the inviter's server) to exchange a third-party invite:
    ``PUT /_matrix/federation/v1/exchange_third_party_invite/{roomId}``. Its refusal is
    passed on (403/404 as answered, anything else 502); unreachable is 502."""
    path = f"/_matrix/federation/v1/exchange_third_party_invite/{path_segment(room_id)}"
    try:
        await client.put_json(destination, path, partial)
    except RemoteError as e:
        status = e.status if e.status in (400, 403, 404) else 502
        raise MatrixError(status, e.errcode or "M_UNKNOWN", f"{destination}: {e}") from None
    except FederationError as e:
        raise MatrixError(502, "M_UNKNOWN", f"Cannot reach {destination}: {e}") from None
