"""Reading request bodies and query strings in handlers, with the spec's error codes.

Client-server API, "Common error codes":

* ``M_NOT_JSON`` (400): the body is not valid JSON at all: empty, invalid UTF-8, lone
  surrogates, ``NaN``/``Infinity``, numbers too large for a double, trailing bytes.
* ``M_BAD_JSON`` (400): valid JSON of the wrong shape (not an object where one is needed).
* ``M_MISSING_PARAM`` (400): a required key or query parameter is absent.
* ``M_INVALID_PARAM`` (400): a key or query parameter is present with the wrong type or
  value ("the server expected an integer and instead received a string").

JSON ``true``/``false`` never pass as integers (Python's ``bool`` is an ``int``), and
JSON ``null`` counts as absent only for the ``optional_*`` getters, which is what most
endpoints mean by an optional key.
"""

from __future__ import annotations

from typing import Any

import orjson

from ranvier.http.types import MatrixError, Request

JsonDict = dict[str, Any]


def _missing(name: str) -> MatrixError:
    return MatrixError(400, "M_MISSING_PARAM", f"Missing parameter: {name}")


def _invalid(name: str, expected: str) -> MatrixError:
    return MatrixError(400, "M_INVALID_PARAM", f"Parameter {name!r} must be {expected}")


def parse_json(body: bytes) -> Any:
    """Decode ``body`` as JSON or raise 400 ``M_NOT_JSON``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MatrixError(400, "M_NOT_JSON", "Content not JSON.") from None


def parse_json_body(request: Request) -> JsonDict:
    """The request body as a JSON object (``M_NOT_JSON`` / ``M_BAD_JSON`` otherwise)."""
    value = parse_json(request.body)
    if not isinstance(value, dict):
        raise MatrixError(400, "M_BAD_JSON", "Content must be a JSON object.")
    return value


def parse_json_body_or_empty(request: Request) -> JsonDict:
    """Like :func:`parse_json_body`, but an empty body is ``{}`` (endpoints with no body)."""
    if not request.body.strip():
        return {}
    return parse_json_body(request)


# -- typed getters on a JSON object ------------------------------------------------------


def require_str(body: JsonDict, key: str) -> str:
    """``body[key]`` as a string (``M_MISSING_PARAM`` / ``M_INVALID_PARAM``)."""
    if key not in body:
        raise _missing(key)
    value = body[key]
    if not isinstance(value, str):
        raise _invalid(key, "a string")
    return value


def optional_str(body: JsonDict, key: str, default: str | None = None) -> str | None:
    """``body[key]`` as a string, or ``default`` when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _invalid(key, "a string")
    return value


def require_int(body: JsonDict, key: str) -> int:
    """``body[key]`` as an integer (booleans and floats are refused)."""
    if key not in body:
        raise _missing(key)
    value = body[key]
    if type(value) is not int:
        raise _invalid(key, "an integer")
    return value


def optional_int(body: JsonDict, key: str, default: int | None = None) -> int | None:
    """``body[key]`` as an integer, or ``default`` when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if type(value) is not int:
        raise _invalid(key, "an integer")
    return value


def require_bool(body: JsonDict, key: str) -> bool:
    """``body[key]`` as a JSON boolean."""
    if key not in body:
        raise _missing(key)
    value = body[key]
    if not isinstance(value, bool):
        raise _invalid(key, "a boolean")
    return value


def optional_bool(body: JsonDict, key: str, default: bool | None = None) -> bool | None:
    """``body[key]`` as a JSON boolean, or ``default`` when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(key, "a boolean")
    return value


def require_dict(body: JsonDict, key: str) -> JsonDict:
    """``body[key]`` as a JSON object."""
    if key not in body:
        raise _missing(key)
    value = body[key]
    if not isinstance(value, dict):
        raise _invalid(key, "an object")
    return value


def optional_dict(body: JsonDict, key: str) -> JsonDict | None:
    """``body[key]`` as a JSON object, or None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(key, "an object")
    return value


def require_list_of_str(body: JsonDict, key: str) -> list[str]:
    """``body[key]`` as a list of strings."""
    if key not in body:
        raise _missing(key)
    return _list_of_str(body[key], key)


def optional_list_of_str(body: JsonDict, key: str) -> list[str] | None:
    """``body[key]`` as a list of strings, or None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    return _list_of_str(value, key)


def _list_of_str(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(key, "a list of strings")
    return value


# -- query parameters ----------------------------------------------------------------------


def query_str(request: Request, name: str) -> str:
    """Required query parameter ``name`` (first value), else ``M_MISSING_PARAM``."""
    value = request.query_one(name)
    if value is None:
        raise _missing(name)
    return value


def query_int(
    request: Request,
    name: str,
    default: int | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Query parameter ``name`` as a decimal integer, ``default`` when absent.

    Raises ``M_INVALID_PARAM`` when it is not an integer or outside ``minimum``..``maximum``.
    """
    text = request.query_one(name)
    if text is None:
        return default
    stripped = text[1:] if text[:1] == "-" else text
    if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 20:
        raise _invalid(name, "an integer")
    value = int(text)
    if minimum is not None and value < minimum:
        raise _invalid(name, f"at least {minimum}")
    if maximum is not None and value > maximum:
        raise _invalid(name, f"at most {maximum}")
    return value


def query_bool(request: Request, name: str, default: bool | None = None) -> bool | None:
    """Query parameter ``name`` as ``true``/``false``, ``default`` when absent."""
    text = request.query_one(name)
    if text is None:
        return default
    if text == "true":
        return True
    if text == "false":
        return False
    raise _invalid(name, "'true' or 'false'")


def query_list(request: Request, name: str) -> list[str]:
    """Every value of a repeated query parameter (``?id=a&id=b``); empty when absent."""
    return list(request.query.get(name, ()))
