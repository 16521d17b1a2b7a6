"""Checking the signatures on events received from other servers.

Spec: server-server-api "Validating hashes and signatures on received events" (the
sender's server; in rooms v1-v2 the server of the event id; for restricted joins the
server of ``join_authorised_via_users_server``), appendices "Checking for a
Signature"; rooms/v5 "Signing key validity period" (from v5 the key must be valid at
the event's ``origin_server_ts``).

:func:`pdu_signature_checker` returns the ``verify`` callable the remote room input
(:mod:`ranvier.rooms.remote`) uses: each server in
:func:`~ranvier.core.signing.servers_that_must_sign` must have signed the redacted
event with a key the keyring finds valid at ``origin_server_ts`` (validity enforced
per the room version's ``enforce_key_validity``).
"""

from __future__ import annotations

from ranvier.core.events import JsonDict
from ranvier.core.redaction import redact
from ranvier.core.room_versions import RoomVersion
from ranvier.core.signing import SignatureError, servers_that_must_sign
from ranvier.federation.keyring import Keyring
from ranvier.rooms.remote import SignatureCheck


def pdu_signature_checker(keyring: Keyring) -> SignatureCheck:
    """The signature check of received PDUs, with ``keyring``'s keys."""

    async def verify(pdu: JsonDict, room_version: RoomVersion) -> None:
        servers = servers_that_must_sign(pdu, room_version)
        ts = pdu.get("origin_server_ts")
        if not isinstance(ts, int):
            raise SignatureError("origin_server_ts is not an integer")
        redacted = redact(pdu, room_version)
        for server in sorted(servers):
            await keyring.verify_json(
                redacted,
                server,
                at_ts=ts,
                enforce_validity=room_version.enforce_key_validity,
            )

    return verify
