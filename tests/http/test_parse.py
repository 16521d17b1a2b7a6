"""Request parsing helpers and their Matrix error codes."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.http import parse
from ranvier.http.types import MatrixError, Request


def req(body: bytes = b"", query: dict[str, list[str]] | None = None) -> Request:
    return Request("POST", "/", "/", query or {}, {}, body, "127.0.0.1")


def errcode(fn: Any, *args: Any) -> str:
    with pytest.raises(MatrixError) as info:
        fn(*args)
    assert info.value.status == 400
    return info.value.errcode


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": 1e999}',
        b'{"a": 1} trailing',
        b'{"a": "\xff"}',
        b'{"a": "\\ud800"}',
        b"{'a': 1}",
    ],
)
def test_not_json(body: bytes) -> None:
    assert errcode(parse.parse_json_body, req(body)) == "M_NOT_JSON"


@pytest.mark.parametrize("body", [b"[]", b"1", b'"s"', b"null", b"true"])
def test_json_but_not_object(body: bytes) -> None:
    assert errcode(parse.parse_json_body, req(body)) == "M_BAD_JSON"


def test_object_and_empty_body_variant() -> None:
    assert parse.parse_json_body(req(b' {"a": [1, "x"]} ')) == {"a": [1, "x"]}
    assert parse.parse_json_body_or_empty(req(b"")) == {}
    assert errcode(parse.parse_json_body_or_empty, req(b"[]")) == "M_BAD_JSON"


BODY = {
    "s": "str",
    "i": 5,
    "b": True,
    "f": 1.5,
    "l": ["a", "b"],
    "bad_l": ["a", 1],
    "d": {"k": 1},
    "n": None,
}


def test_required_getters() -> None:
    assert parse.require_str(BODY, "s") == "str"
    assert parse.require_int(BODY, "i") == 5
    assert parse.require_bool(BODY, "b") is True
    assert parse.require_dict(BODY, "d") == {"k": 1}
    assert parse.require_list_of_str(BODY, "l") == ["a", "b"]
    assert errcode(parse.require_str, BODY, "missing") == "M_MISSING_PARAM"
    assert errcode(parse.require_str, BODY, "i") == "M_INVALID_PARAM"
    assert errcode(parse.require_str, BODY, "n") == "M_INVALID_PARAM"
    assert errcode(parse.require_int, BODY, "b") == "M_INVALID_PARAM"  # bool is not int
    assert errcode(parse.require_int, BODY, "f") == "M_INVALID_PARAM"
    assert errcode(parse.require_bool, BODY, "i") == "M_INVALID_PARAM"
    assert errcode(parse.require_dict, BODY, "l") == "M_INVALID_PARAM"
    assert errcode(parse.require_list_of_str, BODY, "bad_l") == "M_INVALID_PARAM"
    assert errcode(parse.require_list_of_str, BODY, "s") == "M_INVALID_PARAM"


def test_optional_getters() -> None:
    assert parse.optional_str(BODY, "missing") is None
    assert parse.optional_str(BODY, "n", "dflt") == "dflt"
    assert parse.optional_int(BODY, "i") == 5
    assert parse.optional_bool(BODY, "missing", False) is False
    assert parse.optional_dict(BODY, "n") is None
    assert parse.optional_list_of_str(BODY, "l") == ["a", "b"]
    assert errcode(parse.optional_str, BODY, "i") == "M_INVALID_PARAM"
    assert errcode(parse.optional_int, BODY, "b") == "M_INVALID_PARAM"
    assert errcode(parse.optional_bool, BODY, "s") == "M_INVALID_PARAM"
    assert errcode(parse.optional_list_of_str, BODY, "bad_l") == "M_INVALID_PARAM"


def test_query_helpers() -> None:
    r = req(
        query={
            "limit": ["10"],
            "neg": ["-3"],
            "bad": ["1x"],
            "flag": ["true"],
            "no": ["false"],
            "weird": ["yes"],
            "id": ["a", "b"],
            "big": ["9" * 30],
        }
    )
    assert parse.query_int(r, "limit") == 10
    assert parse.query_int(r, "neg") == -3
    assert parse.query_int(r, "absent", 7) == 7
    assert errcode(parse.query_int, r, "bad") == "M_INVALID_PARAM"
    assert errcode(parse.query_int, r, "big") == "M_INVALID_PARAM"
    with pytest.raises(MatrixError) as info:
        parse.query_int(r, "limit", None, minimum=0, maximum=5)
    assert info.value.errcode == "M_INVALID_PARAM"
    assert parse.query_bool(r, "flag") is True
    assert parse.query_bool(r, "no") is False
    assert errcode(parse.query_bool, r, "weird") == "M_INVALID_PARAM"
    assert parse.query_str(r, "limit") == "10"
    assert errcode(parse.query_str, r, "absent") == "M_MISSING_PARAM"
    assert parse.query_list(r, "id") == ["a", "b"]
    assert parse.query_list(r, "absent") == []
