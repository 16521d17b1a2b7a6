"""Identifier grammar table tests (appendices "Identifier Grammar")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranvier.core.ids import (
    EventID,
    InvalidIdentifier,
    RoomAlias,
    RoomID,
    ServerName,
    UserID,
    is_valid_localpart,
    is_valid_namespaced_id,
    is_valid_opaque_id,
    parse_event_id,
    parse_room_alias,
    parse_room_id,
    parse_server_name,
    parse_user_id,
    server_name_of,
    validate_device_id,
)
from ranvier.core.room_versions import get_room_version

HASH43 = "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"
HASH43_STD = "acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("matrix.org", ServerName("matrix.org", None)),
        ("matrix.org:8888", ServerName("matrix.org", 8888)),
        ("1.2.3.4", ServerName("1.2.3.4", None)),
        ("1.2.3.4:1234", ServerName("1.2.3.4", 1234)),
        ("[1234:5678::abcd]", ServerName("[1234:5678::abcd]", None)),
        ("[1234:5678::abcd]:5678", ServerName("[1234:5678::abcd]", 5678)),
        ("[::ffff:1.2.3.4]", ServerName("[::ffff:1.2.3.4]", None)),
        ("localhost", ServerName("localhost", None)),
        ("MATRIX.ORG", ServerName("MATRIX.ORG", None)),
        ("a-b.c", ServerName("a-b.c", None)),
    ],
)
def test_server_name_valid(text: str, expected: ServerName) -> None:
    assert parse_server_name(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (":80", "empty hostname"),
        ("ex ample.org", "invalid character ' '"),
        ("exämple.org", "invalid character 'ä'"),
        ("example.org/path", "invalid character '/'"),
        ("a" * 256, "longer than 255"),
        ("example.org:", "invalid port"),
        ("example.org:abc", "invalid port"),
        ("example.org:123456", "invalid port"),
        ("example.org:65536", "outside 1-65535"),
        ("example.org:0", "outside 1-65535"),
        ("example.org:80:80", "invalid port"),
        ("1.2.3.256", "not a valid IPv4"),
        ("1.2.3", "not a valid IPv4"),
        ("1.2.3.4.5", "not a valid IPv4"),
        ("[1234:5678::abcd", "unclosed"),
        ("[::1]x", "junk after"),
        ("[not:ipv6]", "invalid IPv6"),
        ("[1:2:3:4:5:6:7:8:9]", "invalid IPv6"),
        ("[fe80::1%eth0]", "invalid IPv6"),
        ("[]", "invalid IPv6"),
    ],
)
def test_server_name_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        parse_server_name(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@alice:example.org", UserID("alice", "example.org")),
        ("@a.b_c=d-e/f+g:example.org:8448", UserID("a.b_c=d-e/f+g", "example.org:8448")),
        ("@0:[::1]:8008", UserID("0", "[::1]:8008")),
    ],
)
def test_user_id_valid_strict(text: str, expected: UserID) -> None:
    assert parse_user_id(text, historical=False) == expected
    assert parse_user_id(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    ("text", "localpart"),
    [("@Alice:example.org", "Alice"), ("@:example.org", ""), ("@é\x01!?:x", "é\x01!?")],
)
def test_user_id_historical_only(text: str, localpart: str) -> None:
    assert parse_user_id(text).localpart == localpart
    with pytest.raises(InvalidIdentifier, match="localpart"):
        parse_user_id(text, historical=False)


@pytest.mark.parametrize(
    ("text", "historical", "message"),
    [
        ("alice:example.org", True, "user ID must start with '@'"),
        ("@alice", True, "no ':' separating"),
        ("@alice:", True, "invalid server name: server name is empty"),
        ("@alice:exa mple.org", True, "invalid server name"),
        ("@al\x00ice:example.org", True, "localpart contains invalid character '\\\\x00'"),
        ("@a?:example.org", False, "localpart contains invalid character '\\?'"),
        ("@A:example.org", False, "localpart contains invalid character 'A'"),
        ("@:example.org", False, "localpart is empty"),
        ("@" + "a" * 250 + ":example.org", True, "user ID is longer than 255 bytes"),
        ("@" + "é" * 125 + ":example.org", True, "user ID is longer than 255 bytes"),
    ],
)
def test_user_id_invalid(text: str, historical: bool, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        parse_user_id(text, historical=historical)


def test_user_id_exactly_255_bytes() -> None:
    text = "@" + "a" * (255 - len("@:example.org")) + ":example.org"
    assert len(text) == 255
    parse_user_id(text, historical=False)


def test_is_valid_localpart() -> None:
    assert is_valid_localpart("alice", historical=False)
    assert not is_valid_localpart("Alice", historical=False)
    assert not is_valid_localpart("", historical=False)
    assert is_valid_localpart("Alice")
    assert is_valid_localpart("")
    assert not is_valid_localpart("a:b")
    assert not is_valid_localpart("a\x00b")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._=-/+", min_size=1, max_size=50))
def test_strict_localparts_round_trip(localpart: str) -> None:
    uid = parse_user_id(f"@{localpart}:example.org", historical=False)
    assert uid == UserID(localpart, "example.org")


def test_room_ids() -> None:
    assert parse_room_id("!abc:example.org") == RoomID("abc", "example.org")
    assert parse_room_id("!" + HASH43) == RoomID(HASH43, None)
    assert parse_room_id("!" + HASH43, get_room_version("12")) == RoomID(HASH43, None)
    assert parse_room_id("!abc:example.org", get_room_version("11")).server_name == "example.org"
    assert str(RoomID(HASH43, None)) == "!" + HASH43


@pytest.mark.parametrize(
    ("text", "version", "message"),
    [
        ("abc:example.org", None, "must start with '!'"),
        ("!abc:example.org", "12", "43 URL-safe base64"),
        ("!" + HASH43_STD, "12", "43 URL-safe base64"),
        ("!" + HASH43, "11", "no ':' separating"),
        ("!short", None, "43 URL-safe base64"),
        ("!:example.org", None, "localpart is empty"),
        ("!a:bad host", None, "invalid server name"),
        ("!" + "a" * 250 + ":example.org", None, "longer than 255 bytes"),
    ],
)
def test_room_id_invalid(text: str, version: str | None, message: str) -> None:
    rv = get_room_version(version) if version else None
    with pytest.raises(InvalidIdentifier, match=message):
        parse_room_id(text, rv)


def test_room_aliases() -> None:
    assert parse_room_alias("#Room ü:example.org") == RoomAlias("Room ü", "example.org")
    for text, message in (
        ("room:example.org", "must start with '#'"),
        ("#:example.org", "localpart is empty"),
        ("#room", "no ':'"),
        ("#ro\x00om:example.org", "invalid character"),
        ("#" + "a" * 255 + ":x", "longer than 255 bytes"),
    ):
        with pytest.raises(InvalidIdentifier, match=message):
            parse_room_alias(text)


def test_event_ids() -> None:
    assert parse_event_id("$abc:example.org") == EventID("abc", "example.org")
    assert parse_event_id("$abc:example.org", get_room_version("1")) == EventID(
        "abc", "example.org"
    )
    assert parse_event_id("$" + HASH43_STD, get_room_version("3")) == EventID(HASH43_STD, None)
    assert parse_event_id("$" + HASH43, get_room_version("4")) == EventID(HASH43, None)
    assert parse_event_id("$" + HASH43_STD) == EventID(HASH43_STD, None)
    assert parse_event_id("$" + HASH43) == EventID(HASH43, None)
    for text, version, message in (
        ("abc", None, "must start with '\\$'"),
        ("$" + HASH43, "3", "43 base64"),
        ("$" + HASH43_STD, "4", "43 URL-safe"),
        ("$abc:example.org", "10", "43 URL-safe"),
        ("$" + HASH43, "2", "no ':'"),
        ("$:example.org", None, "localpart is empty"),
        ("$" + "a" * 300, None, "longer than 255 bytes"),
    ):
        with pytest.raises(InvalidIdentifier, match=message):
            parse_event_id(text, get_room_version(version) if version else None)


def test_server_name_of() -> None:
    assert server_name_of("@a:b.org:80") == "b.org:80"
    with pytest.raises(InvalidIdentifier):
        server_name_of("$hash")


def test_opaque_and_namespaced() -> None:
    assert is_valid_opaque_id("aZ09-._~")
    assert not is_valid_opaque_id("")
    assert not is_valid_opaque_id("a b")
    assert not is_valid_opaque_id("a" * 256)
    assert is_valid_namespaced_id("m.room.message")
    assert is_valid_namespaced_id("com.example-x_y")
    assert not is_valid_namespaced_id("M.room")
    assert not is_valid_namespaced_id("1abc")
    assert not is_valid_namespaced_id("")


def test_device_ids() -> None:
    validate_device_id("ABCDEFGHIJ")
    validate_device_id("a-b.c_d~e", strict=True)
    validate_device_id("weird!#$%&'()*+,/:;<=>?@[]^`{|}")
    for text, strict, message in (
        ("", False, "empty"),
        ("a b", False, "invalid character ' '"),
        ('a"b', False, "invalid character"),
        ("a\\b", False, "invalid character"),
        ("ä", False, "invalid character 'ä'"),
        ("a!b", True, "invalid character '!'"),
        ("a" * 256, False, "longer than 255 bytes"),
    ):
        with pytest.raises(InvalidIdentifier, match=message):
            validate_device_id(text, strict=strict)
