"""Canonical JSON encoding, plus the project's ordinary JSON encode/decode.

Spec: appendices "Canonical JSON"; rooms/v6 "Canonical JSON" (strict
enforcement from room v6 on); rooms/v1 fragment "v1-canonical-json" (older
rooms MUST NOT be strictly enforced).

Theory of operation: canonical JSON is the shortest UTF-8 encoding with object
keys sorted by code point. ``orjson`` with ``OPT_SORT_KEYS`` produces exactly
that (UTF-8 byte order equals code point order; its string escaping matches
Python's ``json`` with ``ensure_ascii=False``: ``\\b \\f \\n \\r \\t \\" \\\\``,
other C0 controls as lowercase ``\\u00XX``, everything else raw, including
``/``, U+007F and U+2028). It differs from the ``canonicaljson`` package (the
reference used by Synapse, i.e. stdlib ``json``) only where orjson cannot or
will not encode: floats (different exponent spelling), integers beyond 64 bits,
str subclasses as keys. So the encoder first makes a quick pass looking only
for floats and unusual types; without them orjson's own refusals (non-string
keys, integers outside 53 bits with ``OPT_STRICT_INTEGER``, which is exactly
the spec's range, or 64 bits) are the whole check. Otherwise, or when orjson
refuses, a second, diagnosing walk decides:

* it rejects non-string keys, NaN and infinities always;
* in ``strict`` mode it rejects floats and integers outside
  ``[-(2**53)+1, 2**53-1]`` (the spec's range);
* in lenient mode (room versions 1-5, whose historical events may carry
  floats or large integers, e.g. "floaty" power levels) it notes whether such
  values are present and, if so, encodes with the stdlib encoder configured
  exactly like ``canonicaljson`` so that signatures made by other servers
  still verify byte for byte.

Errors are :class:`CanonicalJsonError`, a :class:`ValueError`, so API code can
map them to ``M_BAD_JSON``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = [
    "MAX_SAFE_INT",
    "MIN_SAFE_INT",
    "CanonicalJsonError",
    "decode_json",
    "encode_canonical_json",
    "encode_json",
]

MAX_SAFE_INT = 2**53 - 1
"""Largest integer canonical JSON allows."""
MIN_SAFE_INT = -(2**53) + 1
"""Smallest integer canonical JSON allows."""

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1

_ORJSON_CANONICAL = orjson.OPT_SORT_KEYS
_ORJSON_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER

_STDLIB_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True
)


class CanonicalJsonError(ValueError):
    """The value cannot be encoded as (strict) canonical JSON."""


def _plain(value: Any) -> bool:
    """True when ``value`` holds only dicts, lists, str, int, bool and None
    (exact types). Then orjson alone decides: it rejects non-string keys,
    out-of-range integers (53-bit with ``OPT_STRICT_INTEGER``, else 64-bit)
    and surrogates, and everything it accepts is byte-identical to the stdlib.
    Floats and anything unusual send the caller to the slow, diagnosing path."""
    t = type(value)
    if t is dict:
        items: Any = value.values()
    elif t is list:
        items = value
    else:
        return t is str or t is int or t is bool or value is None
    for x in items:
        tx = type(x)
        if tx is str or tx is int:
            continue
        if tx is dict or tx is list:
            if not _plain(x):
                return False
        elif tx is not bool and x is not None:
            return False
    return True


def _check(value: Any, strict: bool) -> bool:
    """Walk ``value``; raise on anything unencodable, return True when the
    orjson fast path would not be byte-identical (floats, >64-bit integers,
    str subclasses)."""
    needs_stdlib = False
    stack: list[Any] = [value]
    pop = stack.pop
    push = stack.append
    extend = stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or v is None or t is bool:
            continue
        if t is dict:
            for k in v:
                if type(k) is not str:
                    if isinstance(k, str):
                        needs_stdlib = True
                    else:
                        raise CanonicalJsonError(
                            f"object keys must be strings, not {type(k).__name__}"
                        )
            extend(v.values())
        elif t is list or t is tuple:
            extend(v)
        elif t is int:
            if strict:
                if v > MAX_SAFE_INT or v < MIN_SAFE_INT:
                    raise CanonicalJsonError(f"integer {v} is outside the canonical JSON range")
            elif v > _U64_MAX or v < _I64_MIN:
                needs_stdlib = True
        elif t is float:
            if math.isnan(v) or math.isinf(v):
                raise CanonicalJsonError(f"{v} is not allowed in JSON")
            if strict:
                raise CanonicalJsonError(f"float {v!r} is not allowed in canonical JSON")
            needs_stdlib = True
        elif isinstance(v, str | bool):
            continue
        elif isinstance(v, int):
            push(int(v))
        elif isinstance(v, float):
            push(float(v))
        elif isinstance(v, dict):
            push(dict(v))
        elif isinstance(v, list | tuple):
            extend(v)
        else:
            raise CanonicalJsonError(f"{type(v).__name__} is not JSON serialisable")
    return needs_stdlib


def encode_canonical_json(obj: Any, *, strict: bool = True) -> bytes:
    """Encode ``obj`` as canonical JSON (appendices "Canonical JSON").

    ``strict`` (the default, right for room v6+ and everything outside rooms)
    refuses floats and integers outside ``[-(2**53)+1, 2**53-1]``. With
    ``strict=False`` such values are encoded as Python's ``json`` (and thus the
    ``canonicaljson`` package) would, for verifying historical events.
    Non-string keys, NaN and infinities are always refused.

    Raises :class:`CanonicalJsonError`.
    """
    option = _ORJSON_STRICT if strict else _ORJSON_CANONICAL
    if _plain(obj):
        try:
            return orjson.dumps(obj, option=option)
        except TypeError:
            pass  # diagnose below
    if _check(obj, strict):
        try:
            return _STDLIB_CANONICAL.encode(obj).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise CanonicalJsonError(str(e)) from None
    try:
        return orjson.dumps(obj, option=option)
    except TypeError as e:  # e.g. lone surrogates in strings
        raise CanonicalJsonError(str(e)) from None


def encode_json(obj: Any) -> bytes:
    """Encode ``obj`` as compact JSON quickly (key order not guaranteed canonical).

    For HTTP responses and storage where canonical form is not needed. Raises
    :class:`CanonicalJsonError` when orjson cannot encode the value.
    """
    try:
        return orjson.dumps(obj)
    except TypeError as e:
        raise CanonicalJsonError(str(e)) from None


def decode_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON text. Rejects ``NaN``/``Infinity`` constants and invalid UTF-8.

    Duplicate keys keep the last value. Raises :class:`ValueError`
    (``orjson.JSONDecodeError``) on malformed input.
    """
    return orjson.loads(data)
