"""Canonical JSON: spec examples, byte equality with the ``canonicaljson``
package (the encoder Synapse signs with) and the strict-mode refusals."""

from __future__ import annotations

import json
from typing import Any

import canonicaljson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.core.canonical_json import (
    MAX_SAFE_INT,
    MIN_SAFE_INT,
    CanonicalJsonError,
    decode_json,
    encode_canonical_json,
    encode_json,
)

# appendices "Canonical JSON" -> "Examples" (input text, expected output text)
SPEC_EXAMPLES = [
    ("{}", "{}"),
    ('{"one": 1, "two": "Two"}', '{"one":1,"two":"Two"}'),
    ('{"b": "2", "a": "1"}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        """{"auth": {"success": true, "mxid": "@john.doe:example.com",
        "profile": {"display_name": "John Doe", "three_pids": [
        {"medium": "email", "address": "john.doe@example.org"},
        {"medium": "msisdn", "address": "123456789"}]}}}""",
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        '"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        '{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ),
    ('{"a": "日本語"}', '{"a":"日本語"}'),
    ('{"本": 2, "日": 1}', '{"日":1,"本":2}'),
    ('{"a": "\\u65E5"}', '{"a":"日"}'),
    ('{"a": null}', '{"a":null}'),
]


@pytest.mark.parametrize(("text", "expected"), SPEC_EXAMPLES)
def test_spec_examples(text: str, expected: str) -> None:
    assert encode_canonical_json(decode_json(text)) == expected.encode("utf-8")


def test_spec_example_negative_zero_and_exponent() -> None:
    # The spec's last example ({"a": -0, "b": 1e10}) depends on the parser turning
    # 1e10 into an integer; JSON parsers give a float, which strict mode refuses.
    assert encode_canonical_json({"a": -0, "b": 10**10}) == b'{"a":0,"b":10000000000}'
    with pytest.raises(CanonicalJsonError, match="float"):
        encode_canonical_json(decode_json('{"a": -0, "b": 1e10}'))


@pytest.mark.parametrize(
    "value",
    [
        "\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f",
        "\u2028\u2029",
        'a/b\\c"d',
        "😀\U0010ffff\ufeff",
        {"\u00e9": 1, "e": 2, "😀": 3, "\uffff": 4, "": 5},
    ],
)
def test_escaping_matches_canonicaljson(value: Any) -> None:
    assert encode_canonical_json(value) == canonicaljson.encode_canonical_json(value)


def test_integer_range_strict() -> None:
    assert encode_canonical_json(MAX_SAFE_INT) == str(MAX_SAFE_INT).encode()
    assert encode_canonical_json(MIN_SAFE_INT) == str(MIN_SAFE_INT).encode()
    for bad in (MAX_SAFE_INT + 1, MIN_SAFE_INT - 1, 2**64, -(2**70)):
        with pytest.raises(CanonicalJsonError, match="outside the canonical JSON range"):
            encode_canonical_json({"x": [bad]})


def test_lenient_matches_canonicaljson_for_historical_values() -> None:
    # Room v1-v5 events may carry floats ("floaty" power levels) and big ints.
    for value in (
        {"users": {"@bob:localhost": 50.57}},
        {"x": 1e16, "y": -0.0, "z": 5.114698e4},
        {"big": 2**64, "neg": -(2**63), "huge": 10**30},
        {"i64": 2**63 - 1},
    ):
        assert encode_canonical_json(value, strict=False) == canonicaljson.encode_canonical_json(
            value
        )
        with pytest.raises(CanonicalJsonError):
            encode_canonical_json(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_infinity_always_refused(bad: float) -> None:
    for strict in (True, False):
        with pytest.raises(CanonicalJsonError):
            encode_canonical_json({"a": [bad]}, strict=strict)


@pytest.mark.parametrize("key", [1, None, 1.5, ("a",), True])
def test_non_string_keys_refused(key: Any) -> None:
    for strict in (True, False):
        with pytest.raises(CanonicalJsonError, match="keys must be strings"):
            encode_canonical_json({"outer": {key: 1}}, strict=strict)


def test_unserialisable_and_surrogates_refused() -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"a": object()})
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"a": b"bytes"})
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"a": "\ud800"})


def test_subclasses_encode_like_canonicaljson() -> None:
    class Key(str):
        pass

    value = {Key("b"): 1, "a": [True, False, None], "t": (1, 2)}
    assert encode_canonical_json(value) == canonicaljson.encode_canonical_json(value)


def test_decode_json() -> None:
    assert decode_json(b'{"a":[1,"x",null]}') == {"a": [1, "x", None]}
    assert decode_json('{"a":1,"a":2}') == {"a": 2}
    for bad in ("NaN", '{"a": Infinity}', "-Infinity", "{", b'"\xff"'):
        with pytest.raises(ValueError):
            decode_json(bad)


def test_encode_json_round_trips() -> None:
    value = {"z": 1, "a": ["é", None]}
    assert decode_json(encode_json(value)) == value
    with pytest.raises(CanonicalJsonError):
        encode_json({"a": object()})


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=MIN_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400)
@given(json_values)
def test_property_equals_canonicaljson(value: Any) -> None:
    expected = canonicaljson.encode_canonical_json(value)
    assert encode_canonical_json(value) == expected
    assert encode_canonical_json(value, strict=False) == expected
    assert json.loads(expected) == value


lenient_scalars = json_scalars | st.integers() | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200)
@given(
    st.recursive(
        lenient_scalars,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
        max_leaves=20,
    )
)
def test_property_lenient_equals_canonicaljson(value: Any) -> None:
    assert encode_canonical_json(value, strict=False) == canonicaljson.encode_canonical_json(value)


# appendices "Unpadded Base64" examples
B64_EXAMPLES = [
    (b"", ""),
    (b"f", "Zg"),
    (b"fo", "Zm8"),
    (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"),
    (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),
]


@pytest.mark.parametrize(("raw", "encoded"), B64_EXAMPLES)
def test_unpadded_base64_examples(raw: bytes, encoded: str) -> None:
    assert encode_base64(raw) == encoded
    assert decode_base64(encoded) == raw
    assert decode_base64(encoded + "=" * (-len(encoded) % 4)) == raw


def test_base64_urlsafe() -> None:
    raw = bytes([0xFB, 0xFF, 0xBF])
    assert encode_base64(raw) == "+/+/"
    assert encode_base64(raw, urlsafe=True) == "-_-_"
    assert decode_base64("-_-_") == raw == decode_base64("+/+/")


@pytest.mark.parametrize("bad", ["a", "Zm9v!", "Zg===", "Z=g", "Zm9vY", "é", "Zg=", "Zm 9v"])
def test_base64_garbage_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_base64(bad)


@given(st.binary(max_size=80), st.booleans())
def test_base64_round_trip(raw: bytes, urlsafe: bool) -> None:
    text = encode_base64(raw, urlsafe=urlsafe)
    assert "=" not in text
    assert decode_base64(text) == raw
