"""Third-party invites: inviting by e-mail address through an identity server, and
turning such invites into real ones once the address is bound.

Spec: client-server-api "Third-party invites" (``POST /rooms/{roomId}/invite`` with
``id_server``, ``id_access_token``, ``medium``, ``address``; ``invite_3pid`` of
``/createRoom``; ``third_party_signed`` of ``/join``), server-server-api "Third-party
invites" (``/3pid/onbind``, ``/exchange_third_party_invite``, "Verifying the invite"),
the ``m.room.third_party_invite`` event and the ``m.room.member`` auth rule for
``third_party_invite`` (rooms/v1 5.3.1 and its successors).

Theory of operation
-------------------
:meth:`ThirdPartyInvites.invite` checks the inviter may invite (joined, power level at
least ``invite``) before contacting anyone, then asks the identity server
(:class:`~ranvier.users.identity_client.IdentityClient`) whether the address is bound.
A bound address is invited like any user (:meth:`MembershipService.invite`). Otherwise
the invite is stored at the identity server, whose answer (token, display name,
public keys) becomes an ``m.room.third_party_invite`` state event with the token as
state key; ``public_key`` and ``key_validity_url`` (required by the event schema) come
from the first listed key.

When the invitee binds the address, the identity server calls the invitee's server
(``/3pid/onbind``, :meth:`on_bind`) with, per pending invite, ``signed`` = its
signature over ``{mxid, token}``. The ``m.room.member`` invite must be sent by the
user who sent the ``m.room.third_party_invite`` (the auth rule): if that user is ours,
:meth:`exchange` sends it here; otherwise the inviter's server is asked through
``/exchange_third_party_invite`` (:attr:`remote_exchange`), whose resident side calls
:meth:`invite_content` too. ``POST /join`` with ``third_party_signed`` (the signed
object the client got from the identity server) goes the same way before joining
(:meth:`accept_signed`).

:meth:`invite_content` is "Verifying the invite" done by the resident server: the
``m.room.third_party_invite`` named by ``signed.token`` must be in the current state,
sent by the inviter, ``signed.mxid`` must be the invitee, a signature in ``signed``
must verify with one of the event's public keys, and that key must still be valid at
its ``key_validity_url`` (client-server-api: the server already in the room "MUST
validate that the public key used for signing is still valid"); a key without a URL
in ``public_keys`` is valid indefinitely. Failing any of these is 403 ``M_FORBIDDEN``.
The resulting content carries ``third_party_invite: {display_name, signed}``.

An inviter who has left may still be the invite's sender: the third-party invite rule
comes before the "sender must be joined" rule, so the invite passes the auth rules.
An ``onbind`` call tries every invite it lists; when one fails, the answer is the last
failure (e.g. 403 ``M_FORBIDDEN`` for a revoked key) after the others were tried, so the
identity server learns that not every invite went through (the spec defines only the
200 answer; Synapse answers the same way).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ranvier.core.auth import get_named_power_level, get_user_power_level
from ranvier.core.b64 import decode_base64
from ranvier.core.events import Event, JsonDict
from ranvier.core.ids import InvalidIdentifier, parse_user_id, server_name_of
from ranvier.core.signing import SignatureError, verify_json_signature
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.pipeline import LocalEvent, RoomContext
from ranvier.rooms.service import RoomService
from ranvier.users.identity_client import IdentityClient, IdentityServerError, base_url

logger = logging.getLogger(__name__)

TPI_TYPE = "m.room.third_party_invite"

RemoteExchange = Callable[[str, str, JsonDict], Awaitable[None]]
"""``await remote_exchange(destination, room_id, partial_invite_event)``:
``PUT /_matrix/federation/v1/exchange_third_party_invite/{roomId}`` at ``destination``."""


def _forbidden(message: str) -> MatrixError:
    return MatrixError(403, "M_FORBIDDEN", message)


def _candidate_keys(tpi: Event) -> list[tuple[str, str | None]]:
    """``(public_key, key_validity_url)`` pairs of an ``m.room.third_party_invite``."""
    content = tpi.content
    out: list[tuple[str, str | None]] = []
    key, url = content.get("public_key"), content.get("key_validity_url")
    if isinstance(key, str):
        out.append((key, url if isinstance(url, str) else None))
    listed = content.get("public_keys")
    if isinstance(listed, list):
        for entry in listed:
            if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
                url = entry.get("key_validity_url")
                out.append((entry["public_key"], url if isinstance(url, str) else None))
    return out


def signing_key_of(signed: Mapping[str, Any], tpi: Event) -> tuple[str, str | None] | None:
    """The ``(public_key, key_validity_url)`` of ``tpi`` that verifies a signature in
    ``signed`` (appendices "Checking for a signature"), or None."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        return None
    for public_key, url in _candidate_keys(tpi):
        try:
            raw = decode_base64(public_key)
        except ValueError:
            continue
        if len(raw) != 32:
            continue
        for server, by_key in signatures.items():
            if not isinstance(by_key, dict):
                continue
            for key_id in by_key:
                if not (isinstance(key_id, str) and key_id.startswith("ed25519:")):
                    continue
                try:
                    verify_json_signature(signed, server, key_id, raw)
                except SignatureError:
                    continue
                return public_key, url
    return None


class ThirdPartyInvites:
    """Invites by third-party identifier (module docstring)."""

    def __init__(
        self, rooms: RoomService, membership: MembershipService, identity: IdentityClient
    ) -> None:
        self.rooms = rooms
        self.membership = membership
        self.identity = identity
        self.remote_exchange: RemoteExchange | None = None
        """Asks another server to exchange an invite (set when federation is on)."""

    # ---- inviting -------------------------------------------------------------------

    async def _check_inviter(self, room: RoomInfo, sender: str) -> dict[tuple[str, str], Event]:
        storage = self.rooms.storage
        current = await storage.current_state(room.nid)
        keys = [
            ("m.room.create", ""),
            ("m.room.power_levels", ""),
            ("m.room.member", sender),
            ("m.room.name", ""),
            ("m.room.canonical_alias", ""),
            ("m.room.avatar", ""),
            ("m.room.join_rules", ""),
        ]
        state = await storage.state_events(current, keys)
        member = state.get(("m.room.member", sender))
        if member is None or member.membership != "join":
            raise _forbidden("You are not in the room")
        if get_user_power_level(sender, state) < get_named_power_level("invite", state):
            raise _forbidden("You may not invite users to this room")
        return state

    async def invite(
        self,
        room_id: str,
        sender: str,
        *,
        id_server: str,
        id_access_token: str,
        medium: str,
        address: str,
    ) -> None:
        """``POST /rooms/{roomId}/invite`` with a third-party identifier (module
        docstring). 403 if the sender may not invite, 502 if the identity server
        cannot be used."""
        room = await self.rooms.room_for_reader(room_id)
        state = await self._check_inviter(room, sender)
        try:
            bound = await self.identity.lookup(id_server, id_access_token, medium, address)
        except IdentityServerError as e:
            raise MatrixError(502, "M_UNKNOWN", f"Identity server lookup failed: {e}") from None
        if bound is not None:
            await self.membership.invite(room_id, sender, bound)
            return
        request = await self._store_request(room, sender, state, medium, address)
        try:
            stored = await self.identity.store_invite(id_server, id_access_token, request)
            content, token = self._event_content(id_server, stored)
        except IdentityServerError as e:
            raise MatrixError(502, "M_UNKNOWN", f"Identity server refused: {e}") from None
        await self.rooms.pipeline.submit(room, LocalEvent(sender, TPI_TYPE, content, token))

    async def _store_request(
        self,
        room: RoomInfo,
        sender: str,
        state: Mapping[tuple[str, str], Event],
        medium: str,
        address: str,
    ) -> JsonDict:
        """The body of ``/store-invite`` (identity-service-api "Invitation storage")."""
        request: JsonDict = {
            "medium": medium,
            "address": address,
            "room_id": room.room_id,
            "sender": sender,
        }
        optional = {
            "room_name": (("m.room.name", ""), "name"),
            "room_alias": (("m.room.canonical_alias", ""), "alias"),
            "room_avatar_url": (("m.room.avatar", ""), "url"),
            "room_join_rules": (("m.room.join_rules", ""), "join_rule"),
            "room_type": (("m.room.create", ""), "type"),
        }
        for name, (key, field) in optional.items():
            ev = state.get(key)
            value = ev.content.get(field) if ev is not None else None
            if isinstance(value, str):
                request[name] = value
        if self.rooms.profile_lookup is not None:
            profile = await self.rooms.profile_lookup(sender)
            for name, field in (
                ("sender_display_name", "displayname"),
                ("sender_avatar_url", "avatar_url"),
            ):
                value = profile.get(field)
                if isinstance(value, str):
                    request[name] = value
        return request

    @staticmethod
    def _event_content(id_server: str, stored: Any) -> tuple[JsonDict, str]:
        """The ``m.room.third_party_invite`` content and state key from the
        ``/store-invite`` answer (IdentityServerError if it is unusable)."""
        token = stored.get("token") if isinstance(stored, dict) else None
        if not isinstance(token, str) or not token:
            raise IdentityServerError("store-invite answered no token")
        display_name = stored.get("display_name")
        default_url = f"{base_url(id_server)}/_matrix/identity/v2/pubkey/isvalid"
        keys: list[JsonDict] = []
        listed = stored.get("public_keys")
        if isinstance(listed, list):
            for entry in listed:
                if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
                    key: JsonDict = {"public_key": entry["public_key"]}
                    if isinstance(entry.get("key_validity_url"), str):
                        key["key_validity_url"] = entry["key_validity_url"]
                    keys.append(key)
        if not keys and isinstance(stored.get("public_key"), str):
            keys.append({"public_key": stored["public_key"], "key_validity_url": default_url})
        if not keys:
            raise IdentityServerError("store-invite answered no public keys")
        content: JsonDict = {
            "display_name": display_name if isinstance(display_name, str) else "",
            "public_key": keys[0]["public_key"],
            "key_validity_url": keys[0].get("key_validity_url", default_url),
            "public_keys": keys,
        }
        return content, token

    # ---- verifying and exchanging ---------------------------------------------------

    async def invite_content(
        self, room: RoomInfo, sender: str, target: str, signed: Any
    ) -> JsonDict:
        """The ``m.room.member`` invite content for ``target`` backed by ``signed``,
        after "Verifying the invite" (module docstring); 403 ``M_FORBIDDEN`` if it fails."""
        if not isinstance(signed, dict):
            raise MatrixError(400, "M_BAD_JSON", "third_party_invite.signed must be an object")
        token, mxid = signed.get("token"), signed.get("mxid")
        if not isinstance(token, str) or not isinstance(mxid, str):
            raise MatrixError(400, "M_BAD_JSON", "signed needs mxid and token")
        if mxid != target:
            raise _forbidden("The signed third-party invite is for another user")
        storage = self.rooms.storage
        tpi = await storage.state_event(await storage.current_state(room.nid), TPI_TYPE, token)
        if tpi is None:
            raise _forbidden("No pending third-party invite with that token")
        if tpi.sender != sender:
            raise _forbidden("The third-party invite was sent by someone else")
        key = signing_key_of(signed, tpi)
        if key is None:
            raise _forbidden("No valid identity server signature on the third-party invite")
        public_key, url = key
        if url is not None and not await self.identity.key_is_valid(url, public_key):
            raise _forbidden("The identity server's key is revoked or cannot be checked")
        content = await self.rooms.member_content(target, "invite")
        tpi_content: JsonDict = {"signed": signed}
        display_name = tpi.content.get("display_name")
        if isinstance(display_name, str):
            tpi_content["display_name"] = display_name
        content["third_party_invite"] = tpi_content
        return content

    async def exchange(self, room: RoomInfo, sender: str, target: str, signed: Any) -> str:
        """Send the invite of ``target`` as ``sender`` (our user) in ``room``; an
        existing invite or membership of ``target`` is left alone."""
        content = await self.invite_content(room, sender, target, signed)

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            if ev is not None and ev.membership in ("invite", "join"):
                return ev.event_id
            return None

        local = LocalEvent(sender, "m.room.member", content, target)
        return (await self.rooms.pipeline.submit(room, local, guard)).event_id

    async def _exchange_anywhere(self, room_id: str, sender: str, target: str, signed: Any) -> None:
        """:meth:`exchange` here when ``sender`` is ours, else at ``sender``'s server."""
        if self.rooms.is_local(sender):
            room = await self.rooms.events.get_room(room_id)
            if room is None:
                raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
            await self.exchange(room, sender, target, signed)
            return
        if self.remote_exchange is None:
            raise _forbidden("The inviter is on another server and federation is off")
        partial: JsonDict = {
            "type": "m.room.member",
            "room_id": room_id,
            "sender": sender,
            "state_key": target,
            "content": {"membership": "invite", "third_party_invite": {"signed": signed}},
        }
        await self.remote_exchange(server_name_of(sender), room_id, partial)

    async def accept_signed(self, room_id: str, user_id: str, signed: Any) -> None:
        """``/join`` with ``third_party_signed``: turn it into an invite for
        ``user_id`` first (joining.yaml: the server "must verify that it matches a
        pending ``m.room.third_party_invite`` event in the room")."""
        if not isinstance(signed, dict):
            raise MatrixError(400, "M_BAD_JSON", "third_party_signed must be an object")
        sender = signed.get("sender")
        try:
            if not isinstance(sender, str):
                raise InvalidIdentifier("no sender")
            parse_user_id(sender)
        except InvalidIdentifier:
            raise MatrixError(400, "M_BAD_JSON", "third_party_signed.sender is invalid") from None
        await self._exchange_anywhere(room_id, sender, user_id, signed)

    async def on_bind(self, body: Any) -> None:
        """``/_matrix/federation/v1/3pid/onbind``: exchange each pending invite of a
        now-bound address whose user is ours; raise the last failure, if any, once all
        were tried (module docstring)."""
        if not isinstance(body, dict):
            raise MatrixError(400, "M_BAD_JSON", "Body must be an object")
        mxid, invites = body.get("mxid"), body.get("invites", [])
        if not isinstance(mxid, str) or not isinstance(invites, list):
            raise MatrixError(400, "M_BAD_JSON", "mxid and invites are required")
        failure: MatrixError | None = None
        for invite in invites:
            if not isinstance(invite, dict):
                continue
            target = invite.get("mxid", mxid)
            room_id, sender = invite.get("room_id"), invite.get("sender")
            if not (
                isinstance(target, str)
                and isinstance(room_id, str)
                and isinstance(sender, str)
                and self.rooms.is_local(target)
            ):
                logger.info("onbind: skipping malformed or foreign invite %r", invite)
                continue
            try:
                await self._exchange_anywhere(room_id, sender, target, invite.get("signed"))
            except MatrixError as e:
                logger.info("onbind: invite of %s to %s not exchanged: %s", target, room_id, e)
                failure = e
            except Exception:  # one bad invite must not stop the others
                logger.exception("onbind: invite of %s to %s failed", target, room_id)
                failure = MatrixError(500, "M_UNKNOWN", "Exchanging a third-party invite failed")
        if failure is not None:
            raise failure
