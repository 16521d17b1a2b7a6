"""X-Matrix header: the RFC 9110 grammar as the spec profiles it, signing and verifying."""

from __future__ import annotations

import pytest

from ranvier.core.signing import SignatureError, generate_signing_key
from ranvier.federation.xmatrix import (
    XMatrixAuth,
    XMatrixParseError,
    authorization_header,
    parse_authorization,
    verify_request,
)

KEY = generate_signing_key("k1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'X-Matrix origin="a.org",destination="b.org",key="ed25519:k1",sig="QUJD"',
            XMatrixAuth("a.org", "b.org", "ed25519:k1", "QUJD"),
        ),
        # scheme and names are case-insensitive, order free, spaces/tabs around commas
        (
            'x-matrix   SIG="QUJD" ,\tKey="ed25519:k1" , Origin="a.org"',
            XMatrixAuth("a.org", None, "ed25519:k1", "QUJD"),
        ),
        # unquoted tokens; colons allowed unquoted for old senders
        (
            "X-Matrix origin=a.org:8448,key=ed25519:k1,sig=QUJD",
            XMatrixAuth("a.org:8448", None, "ed25519:k1", "QUJD"),
        ),
        # backslash escapes are undone; unknown parameters ignored; BWS around "="
        (
            'X-Matrix origin = "a\\.org", key="ed25519:k1", sig="QU\\"JD", extra="x"',
            XMatrixAuth("a.org", None, "ed25519:k1", 'QU"JD'),
        ),
        # empty list elements are allowed by the #rule
        (
            'X-Matrix ,origin="a.org",,key="ed25519:k1",sig="QUJD",',
            XMatrixAuth("a.org", None, "ed25519:k1", "QUJD"),
        ),
        # IPv6 literal origin, quoted
        (
            'X-Matrix origin="[::1]:8448",key="ed25519:k1",sig="a/b+c"',
            XMatrixAuth("[::1]:8448", None, "ed25519:k1", "a/b+c"),
        ),
    ],
)
def test_parse_valid(header: str, expected: XMatrixAuth) -> None:
    assert parse_authorization(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer abc",
        "X-Matrixorigin=a",
        'X-Matrix-Foo origin="a",key="ed25519:k",sig="s"',
        'X-Matrix origin="a.org",key="ed25519:k1"',  # no sig
        'X-Matrix key="ed25519:k1",sig="s"',  # no origin
        'X-Matrix origin="a.org",key="ed25519:k1",sig="s',  # unterminated quote
        'X-Matrix origin="a.org" key="ed25519:k1",sig="s"',  # missing comma
        'X-Matrix origin,key="ed25519:k1",sig="s"',  # no "="
        'X-Matrix origin=,key="ed25519:k1",sig="s"',  # empty unquoted value
        'X-Matrix origin="a.org",origin="c.org",key="ed25519:k1",sig="s"',  # duplicate
        'X-Matrix origin="",key="ed25519:k1",sig="s"',  # empty value
        'X-Matrix origin="a.org",key="ed25519:k1",sig=a/b',  # "/" must be quoted
        'X-Matrix origin="a\r\n.org",key="ed25519:k1",sig="s"',
        'X-Matrix origin="a.org",key="ed25519:k1",sig="s\\',
        'X-Matrix =x,origin="a.org",key="ed25519:k1",sig="s"',
    ],
)
def test_parse_malformed(header: str) -> None:
    with pytest.raises(XMatrixParseError):
        parse_authorization(header)


def test_header_follows_sender_compatibility_rules() -> None:
    header = authorization_header(KEY, "a.org", "b.org:8448", "GET", "/_matrix/x?y=1")
    assert header.startswith(
        'X-Matrix origin="a.org",destination="b.org:8448",key="ed25519:k1",sig="'
    )
    assert ", " not in header and "\\" not in header


@pytest.mark.parametrize("content", [None, {}, {"a": [1, "é", {"b": None}]}])
def test_sign_then_verify(content: object) -> None:
    header = authorization_header(KEY, "a.org", "b.org", "PUT", "/_matrix/p?q=%20", content)
    auth = parse_authorization(header)
    verify_request(auth, KEY.verify_key, "PUT", "/_matrix/p?q=%20", "b.org", content)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "uri", "destination", "content"),
    [
        ("POST", "/_matrix/p?q=%20", "b.org", {"x": 1}),  # other method
        ("PUT", "/_matrix/p?q=+", "b.org", {"x": 1}),  # other uri (encoding matters)
        ("PUT", "/_matrix/p?q=%20", "c.org", {"x": 1}),  # other destination
        ("PUT", "/_matrix/p?q=%20", "b.org", {"x": 2}),  # other content
        ("PUT", "/_matrix/p?q=%20", "b.org", None),  # content dropped
    ],
)
def test_any_change_breaks_the_signature(
    method: str, uri: str, destination: str, content: dict[str, int] | None
) -> None:
    header = authorization_header(KEY, "a.org", "b.org", "PUT", "/_matrix/p?q=%20", {"x": 1})
    auth = parse_authorization(header)
    with pytest.raises(SignatureError):
        verify_request(auth, KEY.verify_key, method, uri, destination, content)


def test_other_key_or_algorithm_fails() -> None:
    auth = parse_authorization(authorization_header(KEY, "a.org", "b.org", "GET", "/x"))
    with pytest.raises(SignatureError):
        verify_request(auth, generate_signing_key("k1").verify_key, "GET", "/x", "b.org", None)
    odd = XMatrixAuth(auth.origin, auth.destination, "curve25519:k1", auth.sig)
    with pytest.raises(SignatureError):
        verify_request(odd, KEY.verify_key, "GET", "/x", "b.org", None)
