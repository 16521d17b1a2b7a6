"""Cross-origin resource sharing headers (client-server API, "Web Browser Clients").

The spec asks servers to answer ``OPTIONS`` pre-flight requests without running the
endpoint, and to send the recommended CORS headers on every response of the Matrix
APIs. ranvier sends them on paths under ``/_matrix`` and ``/.well-known`` (the latter so
browser clients can do server discovery). ``Date`` is allowed as a request header as
well, as some clients send it.
"""

from __future__ import annotations

from ranvier.http.types import Response

CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization, Date"),
)
"""The recommended headers of client-server API "Web Browser Clients"."""

CORS_PREFIXES: tuple[str, ...] = ("/_matrix", "/.well-known")
"""Path prefixes whose responses carry :data:`CORS_HEADERS`."""


def is_cors_path(raw_path: str) -> bool:
    """Whether responses on ``raw_path`` get the CORS headers."""
    return raw_path.startswith(CORS_PREFIXES)


def add_cors_headers(response: Response) -> None:
    """Append the CORS headers to ``response``, once.

    Idempotent, because a handler may return the same pre-built Response object for
    every request; the header list is replaced rather than extended for the same reason
    (it may be a list shared with other responses)."""
    headers = response.headers
    if headers and headers[-1] is CORS_HEADERS[-1]:
        return
    response.headers = [*headers, *CORS_HEADERS]
