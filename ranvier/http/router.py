"""The one route table of the server: method + path pattern -> handler.

Patterns are literal paths with placeholders, e.g.
``/_matrix/client/v3/profile/{userId}/displayname``: ``{name}`` matches exactly one path
segment and ``{name:path}`` (only as the last segment) matches the rest of the path,
slashes included. Matching happens on the raw, still percent-encoded path: it is split
on ``/`` first and each segment decoded afterwards, so an encoded ``%2F`` inside a room
alias or a state key stays inside its parameter (client-server API, "Room aliases" and
the path parameters of every endpoint are percent-encoded by clients).

Theory of operation: paths without placeholders live in a dict keyed by the raw path,
so most requests resolve with one lookup. Every route is also stored in a trie of path
segments (literal children in a dict, at most one ``{param}`` child and one ``{:path}``
tail per node). Lookup walks the trie, trying the literal child before the parameter
child and backtracking if the deeper match fails, so ``/rooms/{roomId}/state`` and
``/rooms/createRoom`` can coexist without order-dependent regex scans.

A path that matches routes but not for the request's method gives 405 with an
``Allow`` header; a path that matches nothing gives 404 ``M_UNRECOGNIZED``
(client-server API, "Common error codes"). ``HEAD`` falls back to the ``GET`` route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import unquote

from ranvier.http.types import MatrixError, Request, Response

Handler = Callable[[Request], Awaitable[Response]]
"""A request handler: ``async def handler(request) -> Response``."""

Route = tuple[Handler, str]
"""A handler and its route name (for metrics and logs)."""

_EMPTY_PARAMS: dict[str, str] = {}


class _Node:
    __slots__ = ("literal", "methods", "param", "param_name", "tail", "tail_name")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.param_name = ""
        self.tail: dict[str, Route] | None = None
        self.tail_name = ""
        self.methods: dict[str, Route] | None = None


def _decode(segment: str) -> str:
    """A path parameter, percent-decoded. ``%00`` is refused (400): no identifier may hold
    U+0000 (appendices "Identifier Grammar") and PostgreSQL's ``TEXT`` cannot store it,
    so a type, state key or transaction id holding it would be a 500 there only."""
    if "%" not in segment:
        return segment
    try:
        decoded = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid percent-encoding in path") from None
    if "\x00" in decoded:
        raise MatrixError(400, "M_INVALID_PARAM", "NUL character in path")
    return decoded


def _pick(methods: dict[str, Route], method: str) -> Route | None:
    route = methods.get(method)
    if route is None and method == "HEAD":
        route = methods.get("GET")
    return route


class Router:
    """Maps ``(method, raw path)`` to ``(handler, path params, route name)``."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._root = _Node()
        self._count = 0
        self._body_limits: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return self._count

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        name: str | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        """Register ``handler`` for ``method`` on ``pattern`` (name defaults to the pattern).

        ``max_body_bytes`` raises the server's body limit for this route (media uploads).

        Raises ValueError on a malformed pattern, a duplicate route, or two different
        parameter names at the same position.
        """
        method = method.upper()
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern must start with '/': {pattern!r}")
        route: Route = (handler, name or pattern)
        if max_body_bytes is not None:
            self._body_limits[(method, route[1])] = max_body_bytes
        segments = pattern.split("/")[1:]
        node = self._root
        is_static = True
        for index, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("}"):
                is_static = False
                inner = segment[1:-1]
                if inner.endswith(":path"):
                    if index != len(segments) - 1:
                        raise ValueError(f"{{x:path}} must be last in {pattern!r}")
                    param = inner[: -len(":path")]
                    if node.tail is None:
                        node.tail, node.tail_name = {}, param
                    elif node.tail_name != param:
                        raise ValueError(f"conflicting tail names at {pattern!r}")
                    self._insert(node.tail, method, route, pattern)
                    self._count += 1
                    return
                if not inner.isidentifier():
                    raise ValueError(f"bad parameter {segment!r} in {pattern!r}")
                if node.param is None:
                    node.param, node.param_name = _Node(), inner
                elif node.param_name != inner:
                    raise ValueError(
                        f"parameter {inner!r} conflicts with {node.param_name!r} in {pattern!r}"
                    )
                node = node.param
            else:
                if "{" in segment or "}" in segment:
                    raise ValueError(f"bad segment {segment!r} in {pattern!r}")
                child = node.literal.get(segment)
                if child is None:
                    child = node.literal[segment] = _Node()
                node = child
        if node.methods is None:
            node.methods = {}
        self._insert(node.methods, method, route, pattern)
        if is_static:
            self._static.setdefault(pattern, {})[method] = route
        self._count += 1

    @staticmethod
    def _insert(table: dict[str, Route], method: str, route: Route, pattern: str) -> None:
        if method in table:
            raise ValueError(f"duplicate route {method} {pattern}")
        table[method] = route

    def add_versions(
        self,
        method: str,
        prefix: str,
        versions: Iterable[str],
        suffix: str,
        handler: Handler,
        *,
        name: str | None = None,
    ) -> None:
        """Register one handler under several API versions.

        ``add_versions("GET", "/_matrix/client", ("r0", "v3"), "/account/whoami", h)``
        adds ``/_matrix/client/r0/account/whoami`` and ``/_matrix/client/v3/...``. The
        route name defaults to the last version's pattern, so metrics count them together.
        """
        versions = list(versions)
        if not versions:
            raise ValueError("no versions given")
        shared = name or f"{prefix}/{versions[-1]}{suffix}"
        for version in versions:
            self.add(method, f"{prefix}/{version}{suffix}", handler, name=shared)

    def resolve(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str], str]:
        """Find the handler for ``method`` on ``raw_path`` (percent-encoded, no query).

        Returns ``(handler, params, name)`` with params percent-decoded. Raises
        MatrixError 404 ``M_UNRECOGNIZED`` for an unknown path, 405 ``M_UNRECOGNIZED``
        (with an ``Allow`` header) for a known path and another method.
        """
        methods = self._static.get(raw_path)
        if methods is not None:
            route = _pick(methods, method)
            if route is not None:
                return route[0], _EMPTY_PARAMS, route[1]
        segments = raw_path.split("/")
        if segments[0] != "":
            raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")
        allowed: set[str] = set()
        params: dict[str, str] = {}
        found = self._walk(self._root, segments, 1, method, params, allowed)
        if found is not None:
            return found[0], params, found[1]
        if allowed:
            if "GET" in allowed:
                allowed.add("HEAD")
            error = MatrixError(405, "M_UNRECOGNIZED", "Unrecognized request")
            error.headers.append(("Allow", ", ".join(sorted(allowed))))
            raise error
        raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")

    def body_limit(self, method: str, raw_path: str) -> int | None:
        """The ``max_body_bytes`` given for the route of this request, if any."""
        if not self._body_limits:
            return None
        try:
            _, _, name = self.resolve(method, raw_path)
        except MatrixError:
            return None
        return self._body_limits.get((method.upper(), name))

    def allowed_methods(self, raw_path: str) -> frozenset[str]:
        """Methods routed on ``raw_path`` (empty if the path is unknown); for OPTIONS."""
        allowed: set[str] = set()
        segments = raw_path.split("/")
        if segments[0] == "":
            self._walk(self._root, segments, 1, "", {}, allowed)
        if "GET" in allowed:
            allowed.add("HEAD")
        return frozenset(allowed)

    def _walk(
        self,
        node: _Node,
        segments: list[str],
        index: int,
        method: str,
        params: dict[str, str],
        allowed: set[str],
    ) -> Route | None:
        """Depth-first match; fills ``params`` on success and ``allowed`` along the way."""
        if index == len(segments):
            if node.methods is not None:
                route = _pick(node.methods, method)
                if route is not None:
                    return route
                allowed.update(node.methods)
            return None
        segment = segments[index]
        child = node.literal.get(segment)
        if child is None and "%" in segment:
            child = node.literal.get(_decode(segment))
        if child is not None:
            found = self._walk(child, segments, index + 1, method, params, allowed)
            if found is not None:
                return found
        if node.param is not None:
            found = self._walk(node.param, segments, index + 1, method, params, allowed)
            if found is not None:
                params[node.param_name] = _decode(segment)
                return found
        if node.tail is not None:
            route = _pick(node.tail, method)
            if route is not None:
                params[node.tail_name] = _decode("/".join(segments[index:]))
                return route
            allowed.update(node.tail)
        return None
