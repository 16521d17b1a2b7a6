"""Parsers for the value syntaxes a config file uses, each raising ``ValueError``.

Dendrite's file is read by Go, so some values use Go syntaxes: durations such as
``168h0m0s`` or ``5m`` (Go's ``time.ParseDuration``), sizes such as ``1gb`` and
listen addresses such as ``:8008``. Ranvier accepts those, plus plain integers
(milliseconds for durations, bytes for sizes). The ``ValueError`` messages say what
was expected; the loader prefixes the key path.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable

from ranvier.config.schema import BindAddress

_DURATION_UNITS_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration_ms(value: object) -> int:
    """Milliseconds from a Go duration string (``"168h0m0s"``, ``"1.5h"``, ``"300ms"``)
    or a plain integer of milliseconds. Negative durations are allowed (``-1`` is
    Dendrite's "forever" in places); the caller checks ranges."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 168h0m0s or 5m, or milliseconds")
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a duration like 168h0m0s or 5m, or milliseconds")
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS_MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(
            f"expected a duration like 168h0m0s, 5m or 300ms, or milliseconds, got {value!r}"
        )
    return sign * round(total)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def parse_size_bytes(value: object) -> int:
    """Bytes from ``1gb``/``512mb``/``64kb``/``1tb`` (powers of 1024, as Dendrite) or a
    plain non-negative integer of bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 1gb or 512mb, or bytes")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a non-negative size, got {value}")
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)\s*", value.lower())
        if match and match.group(2) in _SIZE_UNITS:
            return round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    raise ValueError(f"expected a size like 1gb, 512mb or 64kb, or bytes, got {value!r}")


def parse_bind_address(value: str) -> BindAddress:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``:PORT`` (all IPv4 interfaces, Go's meaning)."""
    expected = f"expected HOST:PORT like 127.0.0.1:8008, [::1]:8008 or :8008, got {value!r}"
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(expected)
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(expected) from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(expected)
        if host and not _is_hostname_or_ipv4(host):
            raise ValueError(expected)
        host = host or "0.0.0.0"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(expected)
    return BindAddress(host, int(port_text))


def _is_hostname_or_ipv4(host: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.-]{1,255}", host))


def check_server_name(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a server name (appendices "Server Name":
    ``hostname [ ":" port ]``, hostname an IPv4 literal, a bracketed IPv6 literal or a
    DNS name of 1-255 characters ``[0-9A-Za-z.-]``)."""
    expected = f"expected a server name like example.org or example.org:8448, got {value!r}"
    parse = _core_parse_server_name()
    if parse is not None:
        try:
            parse(value)
        except Exception:
            raise ValueError(expected) from None
        return
    if not _local_server_name_ok(value):
        raise ValueError(expected)


def _core_parse_server_name() -> Callable[[str], object] | None:
    """``ranvier.core.ids.parse_server_name`` when that module provides it."""
    try:
        module = importlib.import_module("ranvier.core.ids")
    except ImportError:
        return None
    parse = getattr(module, "parse_server_name", None)
    return parse if callable(parse) else None


def _local_server_name_ok(value: str) -> bool:
    host, port = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return False
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:] if rest else ""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
    else:
        if value.count(":") > 1:
            return False
        host, _, port = value.partition(":")
        if ":" in value and not port:
            return False
        if not re.fullmatch(r"[0-9A-Za-z.-]{1,255}", host):
            return False
    return not port or (port.isdigit() and len(port) <= 5)
