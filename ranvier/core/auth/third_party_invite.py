"""Third-party invites: checking the ``signed`` block of an ``m.room.member`` invite.

Theory of operation. An identity server stores an invitation for an e-mail
address (or other third-party id); the room member who invited it sent an
``m.room.third_party_invite`` state event whose ``state_key`` is a token and
whose content lists the identity server's public keys (``public_key`` and/or
``public_keys[].public_key``). When the invitee binds the address, the identity
server signs ``{"mxid", "token", ...}`` with one of those keys and the invite
``m.room.member`` event carries that object as
``content.third_party_invite.signed``. The auth rule (rooms/v1 rule 5.3.1,
rooms/v3+ 4.3.1/4.4.1) accepts the invite iff that block is present and
well-formed, names the target user, references a live
``m.room.third_party_invite`` event sent by the same sender, and carries an
Ed25519 signature (appendices "Signing JSON") that verifies with one of the
listed public keys.

Signature checking follows appendices "Checking for a signature": the signed
bytes are the canonical JSON of the block without ``signatures`` and
``unsigned``. Keys and signatures are unpadded Base64 (either alphabet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ranvier.core.auth.errors import AuthError
from ranvier.core.b64 import decode_base64
from ranvier.core.events import Event, StateKey
from ranvier.core.signing import SignatureError, verify_json_signature

RULE = "member/third_party_invite"


def _b64decode(text: Any) -> bytes | None:
    """Decode padded or unpadded, standard or URL-safe Base64; None if invalid."""
    if not isinstance(text, str):
        return None
    try:
        return decode_base64(text)
    except ValueError:
        return None


def public_keys_of(invite_event: Event) -> Iterator[bytes]:
    """The decoded Ed25519 public keys listed by an ``m.room.third_party_invite`` event.

    Spec: rooms/v1 rule 5.3.1.7: ``content.public_key`` and each
    ``content.public_keys[].public_key``. Undecodable entries are skipped.
    """
    content = invite_event.content
    candidates: list[Any] = [content.get("public_key")]
    listed = content.get("public_keys")
    if isinstance(listed, list):
        candidates.extend(k.get("public_key") for k in listed if isinstance(k, dict))
    for text in candidates:
        key = _b64decode(text)
        if key is not None and len(key) == 32:
            yield key


def signed_block_verifies(signed: Mapping[str, Any], public_keys: list[bytes]) -> bool:
    """True if any ``ed25519:*`` signature in ``signed.signatures`` verifies with any key."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict) or not public_keys:
        return False
    for server, by_key in signatures.items():
        if not isinstance(by_key, dict):
            continue
        for key_id in by_key:
            if not (isinstance(key_id, str) and key_id.startswith("ed25519:")):
                continue
            for key in public_keys:
                try:
                    verify_json_signature(signed, server, key_id, key)
                except SignatureError:
                    continue
                return True
    return False


def check_third_party_invite(
    event: Event, state: Mapping[StateKey, Event], target_banned: bool
) -> None:
    """Apply the third-party-invite branch of the invite rule; return to allow.

    Spec: rooms/v1 rule 5.3.1, rooms/v3-v11 4.3.1 / 4.4.1 (v8+), rooms/v12
    5.4.1. Raises :class:`AuthError` for each numbered reject.
    """
    if target_banned:
        raise AuthError(RULE, "the target user is banned")
    tpi = event.content.get("third_party_invite")
    signed = tpi.get("signed") if isinstance(tpi, dict) else None
    if not isinstance(signed, dict):
        raise AuthError(RULE, "third_party_invite has no signed object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError(RULE, "signed has no mxid and token")
    if mxid != event.state_key:
        raise AuthError(RULE, "signed.mxid does not match the state_key")
    invite = state.get(("m.room.third_party_invite", token))
    if invite is None:
        raise AuthError(RULE, f"no m.room.third_party_invite with token {token!r}")
    if invite.sender != event.sender:
        raise AuthError(RULE, "sender does not match the sender of m.room.third_party_invite")
    if not signed_block_verifies(signed, list(public_keys_of(invite))):
        raise AuthError(RULE, "no signature in signed matches a public key of the invite")
