"""Table of third-party invite cases: rooms/v1 rule 5.3.1, rooms/v3-v7 4.3.1,
rooms/v8-v11 4.4.1, rooms/v12 5.4.1 (numbered 4.4.1.x below), and the
``m.room.third_party_invite`` event rule (4 -> 6 in v3-v11).

The ``signed`` blocks are signed with real Ed25519 keys by the ``signedjson``
package (an implementation independent of ranvier's), as an identity server would.
"""

from __future__ import annotations

from typing import Any

import nacl.signing
import pytest
import signedjson.key
import signedjson.sign

from ranvier.core.b64 import encode_base64
from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion
from tests.core.auth.cases import Case, Table, run_case
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, DAVE, Room, standard_room

T = Table()
R = tuple[Room, Event]

IS_KEY = nacl.signing.SigningKey(b"\x01" * 32)
OTHER_KEY = nacl.signing.SigningKey(b"\x02" * 32)
TOKEN = "abc123"


def _key(sk: nacl.signing.SigningKey, urlsafe: bool = False) -> str:
    return encode_base64(bytes(sk.verify_key), urlsafe=urlsafe)


def _signed(mxid: str = BOB, token: str = TOKEN, key: nacl.signing.SigningKey = IS_KEY) -> Any:
    block = {"mxid": mxid, "token": token, "sender": ALICE}
    seed = encode_base64(bytes(key))
    signing_key = signedjson.key.decode_signing_key_base64("ed25519", "0", seed)
    return signedjson.sign.sign_json(block, "id.test", signing_key)


def _room(
    rv: RoomVersion, invite_content: dict[str, Any] | None = None, sender: str = ALICE
) -> Room:
    r = standard_room(rv, "invite")
    content = invite_content if invite_content is not None else {"public_key": _key(IS_KEY)}
    content.setdefault("display_name", "b...@example.com")
    r.put(r.event("m.room.third_party_invite", sender, content, TOKEN))
    return r


def _invite(r: Room, signed: Any, target: str = BOB, sender: str = ALICE) -> Event:
    tpi = {"display_name": "b...@example.com", "signed": signed}
    return r.member(sender, "invite", target, content={"third_party_invite": tpi})


@T.case("4.4.1.7: signed by the key in public_key")
def tpi_ok(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, _invite(r, _signed())


@T.case("4.4.1.7.2: signed by a key listed in public_keys")
def tpi_public_keys_list(rv: RoomVersion) -> R:
    r = _room(
        rv,
        {
            "public_key": _key(OTHER_KEY),
            "public_keys": [{"public_key": _key(OTHER_KEY)}, {"public_key": _key(IS_KEY, True)}],
        },
    )
    return r, _invite(r, _signed())


@T.case("4.4.1.7: only public_keys (no public_key) present")
def tpi_only_public_keys(rv: RoomVersion) -> R:
    r = _room(rv, {"public_keys": [{"public_key": _key(IS_KEY)}]})
    return r, _invite(r, _signed())


@T.case("4.4.1.8: signature by a key the invite does not list", "member/third_party_invite")
def tpi_wrong_key(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, _invite(r, _signed(key=OTHER_KEY))


@T.case("4.4.1.8: signed block altered after signing", "member/third_party_invite")
def tpi_tampered(rv: RoomVersion) -> R:
    r = _room(rv)
    signed = _signed()
    signed["extra"] = "added later"
    return r, _invite(r, signed)


@T.case("4.4.1.8: no signatures at all", "member/third_party_invite")
def tpi_unsigned(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, _invite(r, {"mxid": BOB, "token": TOKEN})


@T.case("4.4.1.8: signature under a non-ed25519 key id is ignored", "member/third_party_invite")
def tpi_non_ed25519(rv: RoomVersion) -> R:
    r = _room(rv)
    signed = _signed()
    signed["signatures"] = {
        "id.test": {"curve25519:0": signed["signatures"]["id.test"]["ed25519:0"]}
    }
    return r, _invite(r, signed)


@T.case("4.4.1.8: the invite's public key is not base64", "member/third_party_invite")
def tpi_bad_public_key(rv: RoomVersion) -> R:
    r = _room(rv, {"public_key": "not base64!", "public_keys": "also wrong"})
    return r, _invite(r, _signed())


@T.case("4.4.1.1: the target user is banned", "member/third_party_invite")
def tpi_target_banned(rv: RoomVersion) -> R:
    r = _room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, _invite(r, _signed())


@T.case("4.4.1.2: third_party_invite without signed", "member/third_party_invite")
def tpi_no_signed(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, r.member(ALICE, "invite", BOB, content={"third_party_invite": {"display_name": "x"}})


@T.case("4.4.1.2: third_party_invite is not an object", "member/third_party_invite")
def tpi_not_object(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, r.member(ALICE, "invite", BOB, content={"third_party_invite": "yes"})


@T.case("4.4.1.3: signed without token", "member/third_party_invite")
def tpi_no_token(rv: RoomVersion) -> R:
    r = _room(rv)
    signed = _signed()
    del signed["token"]
    return r, _invite(r, signed)


@T.case("4.4.1.3: signed without mxid", "member/third_party_invite")
def tpi_no_mxid(rv: RoomVersion) -> R:
    r = _room(rv)
    signed = _signed()
    del signed["mxid"]
    return r, _invite(r, signed)


@T.case("4.4.1.4: mxid does not match state_key", "member/third_party_invite")
def tpi_mxid_mismatch(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, _invite(r, _signed(mxid=CAROL))


@T.case("4.4.1.5: no m.room.third_party_invite with the token", "member/third_party_invite")
def tpi_unknown_token(rv: RoomVersion) -> R:
    r = _room(rv)
    return r, _invite(r, _signed(token="other"))


@T.case(
    "4.4.1.6: sender differs from the m.room.third_party_invite sender", "member/third_party_invite"
)
def tpi_sender_mismatch(rv: RoomVersion) -> R:
    r = _room(rv)
    r.set_member(DAVE, "join")
    return r, _invite(r, _signed(), sender=DAVE)


@T.case("4.4.1.7: the valid third-party path does not require the sender to be joined")
def tpi_sender_left(rv: RoomVersion) -> R:
    r = _room(rv, sender=DAVE)
    return r, _invite(r, _signed(), sender=DAVE)


# ---- the m.room.third_party_invite event itself ---------------------------------


@T.case("6.1: m.room.third_party_invite needs the invite level, not state_default")
def tpi_event_ok(rv: RoomVersion) -> R:
    r = standard_room(rv, state_default=100)
    r.set_member(DAVE, "join")
    return r, r.event("m.room.third_party_invite", DAVE, {"public_key": _key(IS_KEY)}, "tok")


@T.case("6.1: m.room.third_party_invite below the invite level", "third_party_invite")
def tpi_event_below_invite(rv: RoomVersion) -> R:
    r = standard_room(rv, invite=10)
    r.set_member(DAVE, "join")
    return r, r.event("m.room.third_party_invite", DAVE, {"public_key": _key(IS_KEY)}, "tok")


@T.case("5: m.room.third_party_invite from a non-member", "sender_joined")
def tpi_event_non_member(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.third_party_invite", DAVE, {"public_key": _key(IS_KEY)}, "tok")


@pytest.mark.parametrize(("c", "rv"), T.params())
def test_third_party_invite(c: Case, rv: RoomVersion) -> None:
    run_case(c, rv)
