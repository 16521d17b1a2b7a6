"""Value syntaxes: Go durations, sizes, listen addresses, server names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranvier.config.schema import BindAddress
from ranvier.config.values import (
    check_server_name,
    parse_bind_address,
    parse_duration_ms,
    parse_size_bytes,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("168h0m0s", 168 * 3600 * 1000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1.5h", 5_400_000),
        ("2h45m", (2 * 60 + 45) * 60_000),
        ("300ms", 300),
        ("1s500ms", 1500),
        ("1500000us", 1500),
        ("2000000000ns", 2000),
        ("-1s", -1000),
        ("0", 0),
        (3600000, 3600000),
        ("250", 250),
        (" 5m ", 300_000),
    ],
)
def test_durations(text: object, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "5", "5x", "h", "1h5", "m5", "1.2.3s", True, 1.5, None, []])
def test_bad_durations(bad: object) -> None:
    if bad == "5":  # a bare integer string means milliseconds
        assert parse_duration_ms(bad) == 5
        return
    with pytest.raises(ValueError, match="duration"):
        parse_duration_ms(bad)


@given(h=st.integers(0, 1000), m=st.integers(0, 59), s=st.integers(0, 59))
def test_go_duration_components_add_up(h: int, m: int, s: int) -> None:
    assert parse_duration_ms(f"{h}h{m}m{s}s") == ((h * 60 + m) * 60 + s) * 1000


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1gb", 1024**3),
        ("512mb", 512 * 1024**2),
        ("64kb", 64 * 1024),
        ("1tb", 1024**4),
        ("1GB", 1024**3),
        ("100", 100),
        (4096, 4096),
        ("1.5mb", 1536 * 1024),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size_bytes(text) == size


@pytest.mark.parametrize("bad", ["", "1pb", "lots", -1, True, "mb"])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size_bytes(bad)


@pytest.mark.parametrize(
    ("text", "addr"),
    [
        ("127.0.0.1:8008", BindAddress("127.0.0.1", 8008)),
        (":8008", BindAddress("0.0.0.0", 8008)),
        ("[::1]:8448", BindAddress("::1", 8448)),
        ("localhost:0", BindAddress("localhost", 0)),
    ],
)
def test_bind_addresses(text: str, addr: BindAddress) -> None:
    assert parse_bind_address(text) == addr
    assert parse_bind_address(str(addr)) == addr


@pytest.mark.parametrize("bad", ["8008", "127.0.0.1", "::1:8008", "[::1]8008", "h:99999", "h:x"])
def test_bad_bind_addresses(bad: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind_address(bad)


@pytest.mark.parametrize(
    "name",
    ["example.org", "example.org:8448", "localhost", "1.2.3.4:1", "[::1]", "[1234:5678::abcd]:80"],
)
def test_server_names(name: str) -> None:
    check_server_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "exa mple.org", "example.org:", "example.org:123456", "[::1", "a:b:c", "ex_ample.org"],
)
def test_bad_server_names(name: str) -> None:
    with pytest.raises(ValueError, match="expected a server name"):
        check_server_name(name)
