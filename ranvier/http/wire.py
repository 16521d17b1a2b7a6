"""Serialising HTTP/1.1 response heads, with the repeated parts precomputed.

The server writes one response head per request, so its pieces are cached as bytes:
status lines per status code, ``Content-Type`` lines per media type, header lines per
``(name, value)`` pair (CORS headers repeat verbatim on every response), and the
``Date`` header, formatted at most once per second (RFC 9110 section 6.6.1 asks an
origin server with a clock to send it). Header values are checked for line breaks so a
value taken from user input can never inject a header (RFC 9110 section 5.5).
"""

from __future__ import annotations

import time
from http import HTTPStatus

from ranvier.http.types import Response

NO_BODY_STATUSES = frozenset({204, 304})
"""Responses that never carry a body or a Content-Length (RFC 9110 sections 8.6, 15.3.5)."""

_status_lines: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _status_lines.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
        _status_lines[status] = line
    return line


_content_type_lines: dict[str, bytes] = {}


def _content_type_line(content_type: str) -> bytes:
    line = _content_type_lines.get(content_type)
    if line is None:
        _check_header_value(content_type)
        line = f"Content-Type: {content_type}\r\n".encode("latin-1")
        if len(_content_type_lines) < 256:
            _content_type_lines[content_type] = line
    return line


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """``timestamp`` as an IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``
    (RFC 9110 section 5.6.7). Written here rather than taken from :mod:`email.utils`,
    which would cost an idle server about 1.4 MiB of imports for one format string."""
    t = time.gmtime(timestamp)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


_date_second = -1
_date_line = b""


def _date_header() -> bytes:
    """``Date:`` header line, formatted at most once per second."""
    global _date_second, _date_line
    now = time.time()
    second = int(now)
    if second != _date_second:
        _date_second = second
        _date_line = b"Date: " + http_date(now).encode("ascii") + b"\r\n"
    return _date_line


_header_lines: dict[tuple[str, str], bytes] = {}


def _header_line(header: tuple[str, str]) -> bytes:
    """Encode one header line, caching it (most headers, like CORS, repeat verbatim)."""
    name, value = header
    _check_header_value(name)
    _check_header_value(value)
    line = f"{name}: {value}\r\n".encode("latin-1")
    if len(_header_lines) < 4096:
        _header_lines[header] = line
    return line


def _check_header_value(value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header value contains a line break: {value!r}")


def _error_body(errcode: str, error: str) -> bytes:
    # Hand-written to avoid importing orjson for four constant bodies.
    return b'{"errcode":"%s","error":"%s"}' % (errcode.encode(), error.encode())


def canned_error(status: int, errcode: str, error: str) -> Response:
    """A JSON error response made by the server itself (not by a handler)."""
    return Response(status=status, body=_error_body(errcode, error))


def encode_head(response: Response, keep_alive: bool) -> tuple[list[bytes], bytes]:
    """The head of ``response`` as byte pieces, and the body to send after it.

    The head has the status line, ``Date``, ``Content-Type`` and ``Content-Length``
    (except for 204 and 304, whose body is dropped), the response's own headers, and
    ``Connection: close`` when the connection will not be kept alive.
    """
    status = response.status
    body = response.body
    head = [_status_line(status), _date_header()]
    if status not in NO_BODY_STATUSES:
        head.append(_content_type_line(response.content_type))
        head.append(b"Content-Length: %d\r\n" % len(body))
    else:
        body = b""
    for header in response.headers:
        line = _header_lines.get(header)
        if line is None:
            line = _header_line(header)
        head.append(line)
    head.append(b"\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    return head, body
