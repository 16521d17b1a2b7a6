"""A small HTTP/1.1 server on ``asyncio.Protocol`` and ``httptools`` (llhttp).

Why our own: the team measured ~10 us of CPU per request for this shape against 40-60 us
for ASGI servers and frameworks; a homeserver spends most requests on tiny JSON bodies
and idle long-polls, so the fixed cost per request and per idle connection matters.

Theory of operation
-------------------
One :class:`_Connection` protocol object per TCP (or TLS) connection. Bytes from the
socket go straight into an ``httptools.HttpRequestParser`` whose callbacks fill the
state of the message being read (URL, headers, body parts). Limits are enforced in the
callbacks: header bytes (precisely, from the URL and each header, plus a coarse count of
raw bytes while a header block is still incomplete so a never-ending header cannot grow
memory), the declared ``Content-Length`` and the bytes of a chunked body.

A complete message becomes a :class:`~ranvier.http.types.Request` and goes to the
connection's queue; a single task per connection (started when there is work, ended
when there is none) takes requests one at a time, so pipelined requests are answered in
order. Handlers always run inside that Task (an earlier version ran a handler's first
step eagerly in the parser callback to save the Task; that broke ``asyncio.timeout``
and aiohttp, which need ``current_task()``). Input is parsed one header block at a
time; when ``max_pipelined`` requests are queued, the rest of the read is stashed
unparsed and the transport stops reading until the queue has room.

A protocol error or a limit violation stops parsing and queues a ready-made error
response behind the requests already received (so it is sent at once when nothing is
in front of it; responses never overtake each other). After it, the server half-closes
and keeps discarding input for a moment ("lingering close"), so that a client still
sending its oversized body reads the 413 instead of a connection reset.

Write backpressure: when the transport's buffer is over its high-water mark the protocol
gets ``pause_writing``; the next response waits for ``resume_writing`` (requests then
queue, and parsing stops at ``max_pipelined``). A peer that never reads is aborted
after ``body_timeout`` of being paused, so a stuck client only ever holds its own
buffer.

Timeouts use one deadline per connection (and one for paused writes), checked by a
single sweeper task per server every fraction of a second, rather than a timer handle
per request: idle keep-alive (``keepalive_timeout``), a header block that takes too long
in total (``header_timeout``, which is what drops slowloris clients), and a body that
stalls (``body_timeout``, reset by each read that carries body bytes). A handler that
runs long (a sync long-poll) has no deadline here.

Graceful shutdown: :meth:`HttpServer.shutdown` closes the listening sockets, closes idle
connections, lets the queued and in-flight requests finish (their last response carries
``Connection: close``), and after ``grace`` seconds aborts what is left and cancels the
handlers still running.

RFC 9112 (HTTP/1.1 message syntax) is the reference for framing; the Matrix
client-server API ("Standard error response") for the JSON of error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote

import httptools

from ranvier.http.types import Request, Response
from ranvier.http.wire import canned_error, encode_head

logger = logging.getLogger(__name__)

App = Callable[[Request], Coroutine[Any, Any, Response]]
"""The application: an ``async def`` function (or object) from request to response."""

Precheck = Callable[[str, str], Response | None]
"""``precheck(method, raw_path)``: a response to send instead of reading the body, or None.

Used for ``Expect: 100-continue``: the server only invites the body when the request
would be routed (an unknown path gets its 404 at once)."""


BodyLimit = Callable[[str, str], int | None]
"""``body_limit(method, raw_path)``: a larger body limit for this route, or None.

Asked only when a body exceeds ``HttpLimits.max_body_bytes`` (so it costs nothing for
ordinary requests); lets e.g. media uploads accept more than JSON endpoints."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Resource limits of the HTTP server (sizes in bytes, times in seconds)."""

    max_header_bytes: int = 16384
    """Request line plus headers; more is answered 431 and the connection closed."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Request body (declared or chunked); more is answered 413 ``M_TOO_LARGE``."""
    header_timeout: float = 10.0
    """Total time allowed from the first byte of a request to the end of its headers."""
    body_timeout: float = 30.0
    """Longest silence while reading a body, or while the peer does not read a response."""
    keepalive_timeout: float = 75.0
    """An idle keep-alive connection is closed after this long."""
    max_pipelined: int = 16
    """Requests queued on one connection before reading pauses."""


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BIG_BODY = 65536

# Deadline kinds.
_NONE = 0
_IDLE = 1
_HEADER = 2
_BODY = 3
_LINGER = 4

_LINGER_SECONDS = 2.0
"""After an error response, how long unread request bytes are still read and discarded."""

_INTERNAL_ERROR = canned_error(500, "M_UNKNOWN", "Internal server error")


class _StopParsing(Exception):
    """Raised from a parser callback once the connection has been failed."""


class HttpServer:
    """The HTTP/1.1 server: listeners, connections, limits and graceful shutdown."""

    def __init__(
        self,
        app: App,
        limits: HttpLimits | None = None,
        *,
        precheck: Precheck | None = None,
        body_limit: BodyLimit | None = None,
    ) -> None:
        """``app`` answers every request.

        ``precheck`` and ``body_limit`` default to the app's methods of those names, if
        it has them (``ranvier.http.app.App`` does)."""
        self.app = app
        self.limits = limits or HttpLimits()
        if precheck is None:
            precheck = getattr(app, "precheck", None)
        self.precheck = precheck
        if body_limit is None:
            body_limit = getattr(app, "body_limit", None)
        self.body_limit = body_limit
        self.draining = False
        self._connections: set[_Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._all_closed: asyncio.Event | None = None
        shortest = min(limits_values(self.limits))
        self._sweep_interval = min(1.0, max(0.05, shortest / 4))

    @property
    def connection_count(self) -> int:
        """Number of open client connections."""
        return len(self._connections)

    async def start(
        self, host: str, port: int, ssl_context: Any | None = None
    ) -> list[tuple[Any, ...]]:
        """Listen on ``host:port`` (port 0 picks a free one); return the bound addresses.

        May be called several times (e.g. one plain and one TLS listener). ``ssl_context``
        is an ``ssl.SSLContext`` for HTTPS.
        """
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Connection(self),
            host=host,
            port=port,
            ssl=ssl_context,
            ssl_handshake_timeout=self.limits.header_timeout if ssl_context else None,
            backlog=1024,
            reuse_address=True,
        )
        self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep())
        return [sock.getsockname() for sock in server.sockets]

    async def shutdown(self, grace: float) -> None:
        """Stop accepting, finish in-flight requests for up to ``grace`` s, then close all."""
        self.draining = True
        self._all_closed = asyncio.Event()
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.begin_drain()
        if self._connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), grace)
        for conn in list(self._connections):
            conn.abort()
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def _add(self, conn: _Connection) -> None:
        self._connections.add(conn)

    def _remove(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        if not self._connections and self._all_closed is not None:
            self._all_closed.set()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            now = time.monotonic()
            for conn in list(self._connections):
                conn.check_deadlines(now)


async def wait_for_signal(
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> signal.Signals:
    """Wait for one of ``signals`` and return it (for the composer's graceful drain).

    The handlers are installed on the running loop (main thread only) and removed
    afterwards, so a second signal during the drain gets the default behaviour
    (a second Ctrl-C stops at once)::

        await wait_for_signal()
        await server.shutdown(grace_seconds)
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await received
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def limits_values(limits: HttpLimits) -> tuple[float, float, float]:
    """The three timeouts of ``limits`` (used to size the sweeper interval)."""
    return (limits.header_timeout, limits.body_timeout, limits.keepalive_timeout)


_QueueItem = tuple[Request, bool] | Response
"""A parsed request with its keep-alive flag, or a canned response that ends the connection."""


class _Connection(asyncio.Protocol):
    """One client connection: parsing, the request queue and response writing."""

    __slots__ = (
        "_app",
        "_body_len",
        "_body_parts",
        "_client_ip",
        "_deadline",
        "_deadline_kind",
        "_drain_waiter",
        "_expect_pending",
        "_failed",
        "_head_bytes",
        "_headers",
        "_headers_done",
        "_in_message",
        "_limits",
        "_lost",
        "_no_more",
        "_now",
        "_parser",
        "_pipeline_paused",
        "_queue",
        "_route_body_max",
        "_seq",
        "_server",
        "_stash",
        "_task",
        "_transport",
        "_url",
        "_write_deadline",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._app = server.app
        self._limits = server.limits
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client_ip = ""
        self._queue: deque[_QueueItem] = deque()
        self._task: asyncio.Task[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_deadline = math.inf
        self._pipeline_paused = False
        self._no_more = False  # stop parsing further requests
        self._failed = False
        self._lost = False
        self._expect_pending = False
        self._seq = 0
        self._now = 0.0
        self._stash: list[bytes] = []
        self._reset_message()
        self._deadline = math.inf
        self._deadline_kind = _NONE

    def _reset_message(self) -> None:
        self._in_message = False
        self._headers_done = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._body_parts: list[bytes] = []
        self._body_len = 0
        self._route_body_max: int | None = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._client_ip = str(peer[0])
        self._server._add(self)
        if self._server.draining:
            transport.close()
            return
        self._set_deadline(_IDLE, self._limits.keepalive_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._server._remove(self)
        self._deadline = math.inf
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        if self._drain_waiter is None or self._drain_waiter.done():
            self._drain_waiter = asyncio.get_running_loop().create_future()
        self._write_deadline = time.monotonic() + self._limits.body_timeout

    def resume_writing(self) -> None:
        self._write_deadline = math.inf
        waiter = self._drain_waiter
        self._drain_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._no_more or self._failed:
            return
        self._now = time.monotonic()
        if self._stash:
            self._stash.append(data)  # arrived before pause_reading took effect
            return
        boundary = data.find(b"\r\n\r\n")
        if (boundary < 0 or boundary + 4 >= len(data)) and (
            len(self._queue) < self._limits.max_pipelined
        ):
            self._feed_slice(data)  # the usual read: at most one header block
        else:
            self._feed(memoryview(data), 0)

    def _feed(self, view: memoryview, pos: int) -> None:
        """Parse ``view[pos:]``, one header block at a time, stopping at a full queue.

        Slices end after each ``CRLF CRLF`` so that at most about one message completes
        per ``feed_data`` call; once ``max_pipelined`` requests are queued the rest is
        kept in ``_stash`` (and reading is paused) until the queue has room again. A
        read holding a single request is fed in one call.
        """
        end_all = len(view)
        obj = view.obj
        assert isinstance(obj, bytes)
        while pos < end_all:
            if len(self._queue) >= self._limits.max_pipelined:
                self._stash.append(bytes(view[pos:]))
                self._pause_for_pipeline()
                return
            boundary = obj.find(b"\r\n\r\n", pos)
            end = end_all if boundary < 0 or boundary + 4 >= end_all else boundary + 4
            if not self._feed_slice(view[pos:end]):
                return
            pos = end

    def _feed_slice(self, chunk: bytes | memoryview) -> bool:
        """Feed one slice to the parser; False when parsing has stopped for good."""
        began_before = self._in_message and not self._headers_done
        seq = self._seq
        try:
            self._parser.feed_data(chunk)
        except httptools.HttpParserUpgrade:
            # The upgrade is not supported: answer the request normally, then close.
            self._stop_reading()
            return False
        except Exception as exc:  # HttpParserError or our _StopParsing
            if not self._failed:
                logger.debug("malformed request from %s: %s", self._client_ip, exc)
                self._fail(canned_error(400, "M_UNKNOWN", "Malformed HTTP request"))
            return False
        if began_before and seq == self._seq and self._in_message and not self._headers_done:
            # Still inside a header block that started in an earlier chunk: every byte of
            # this chunk was header bytes that httptools buffers before calling us.
            self._head_bytes += len(chunk)
            if self._head_bytes > self._limits.max_header_bytes:
                self._fail_headers_too_large()
                return False
        return not (self._no_more or self._failed)

    def _pause_for_pipeline(self) -> None:
        if not self._pipeline_paused:
            self._pipeline_paused = True
            if self._transport is not None:
                self._transport.pause_reading()

    def _unpause_pipeline(self) -> None:
        """The queue has room again: parse what was stashed, then read again."""
        self._pipeline_paused = False
        stash, self._stash = self._stash, []
        self._now = time.monotonic()
        for index, data in enumerate(stash):
            if self._no_more or self._failed:
                return
            self._feed(memoryview(data), 0)
            if self._stash:  # full again: keep the rest, still paused
                self._stash.extend(stash[index + 1 :])
                return
        if not self._no_more and self._transport is not None:
            self._transport.resume_reading()

    def eof_received(self) -> bool | None:
        # Half-close from the client: answer what was received, then close.
        self._no_more = True
        # Returning False lets the transport close itself; True keeps it open to answer.
        idle = self._task is None and not self._queue
        return not (self._deadline_kind == _LINGER or idle)

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._seq += 1
        self._reset_message()
        self._in_message = True
        self._deadline_kind = _HEADER
        self._deadline = self._now + self._limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._limits.max_header_bytes:
            self._fail_headers_too_large()
            raise _StopParsing

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self._limits.max_header_bytes:
            self._fail_headers_too_large()
            raise _StopParsing
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._headers
        old = headers.get(key)
        headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        headers = self._headers
        length_text = headers.get("content-length")
        # llhttp has already rejected a malformed or conflicting Content-Length.
        if length_text is not None and int(length_text) > self._body_max():
            self._fail(_too_large())
            raise _StopParsing
        expect = headers.get("expect")
        if expect is not None and expect.lower() == "100-continue":
            precheck = self._server.precheck
            if precheck is not None:
                refusal = precheck(self._parser.get_method().decode("ascii"), self._path_only())
                if refusal is not None:
                    self._fail(refusal)
                    raise _StopParsing
            if self._queue or self._task is not None:
                self._expect_pending = True
            elif self._transport is not None:
                self._transport.write(_CONTINUE)
        if length_text != "0" and (length_text is not None or "transfer-encoding" in headers):
            self._deadline_kind = _BODY
            self._deadline = self._now + self._limits.body_timeout

    def on_body(self, body: bytes) -> None:
        self._body_len += len(body)
        if self._body_len > self._limits.max_body_bytes and self._body_len > self._body_max():
            self._fail(_too_large())
            raise _StopParsing
        self._body_parts.append(body)
        if self._deadline_kind == _BODY:
            self._deadline = self._now + self._limits.body_timeout

    def _body_max(self) -> int:
        """The body limit of the current message (asks ``body_limit`` at most once)."""
        if self._route_body_max is None:
            limit = self._limits.max_body_bytes
            ask = self._server.body_limit
            if ask is not None:
                method = self._parser.get_method().decode("ascii")
                limit = max(limit, ask(method, self._path_only()) or 0)
            self._route_body_max = limit
        return self._route_body_max

    def on_message_complete(self) -> None:
        parser = self._parser
        request = self._build_request(parser.get_method().decode("ascii"))
        keep_alive = bool(parser.should_keep_alive())
        # The next on_message_begin makes fresh containers; the request owns these.
        self._in_message = False
        self._headers_done = False
        self._expect_pending = False
        self._deadline_kind = _NONE
        self._deadline = math.inf
        if request is None:
            self._fail(canned_error(400, "M_UNKNOWN", "Malformed request target"))
            raise _StopParsing
        self._enqueue((request, keep_alive))
        if not keep_alive or self._server.draining:
            self._stop_reading()

    # -- requests -----------------------------------------------------------------------

    def _path_only(self) -> str:
        url = self._url
        end = len(url)
        for sep in (b"?", b"#"):
            i = url.find(sep)
            if 0 <= i < end:
                end = i
        return url[:end].decode("ascii", "replace")

    def _build_request(self, method: str) -> Request | None:
        url = self._url
        if not url.startswith(b"/"):
            if url == b"*":
                return self._make_request(method, "*", "")
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                return None
            path_b = parsed.path or b"/"
            query_b = parsed.query or b""
        else:
            path_b, _, query_b = url.partition(b"?")
            if b"#" in query_b:
                query_b = query_b.partition(b"#")[0]
            elif b"#" in path_b:
                path_b = path_b.partition(b"#")[0]
        try:
            raw_path = path_b.decode("ascii")
            query = query_b.decode("ascii")
        except UnicodeDecodeError:
            return None
        return self._make_request(method, raw_path, query)

    def _make_request(self, method: str, raw_path: str, query_string: str) -> Request:
        parts = self._body_parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        return Request(
            method=method,
            path=unquote(raw_path) if "%" in raw_path else raw_path,
            raw_path=raw_path,
            query=parse_qs(query_string, keep_blank_values=True) if query_string else {},
            headers=self._headers,
            body=body,
            client_ip=self._client_ip,
            raw_query=query_string,
        )

    def _enqueue(self, item: _QueueItem) -> None:
        """Queue a parsed request (or a canned final response) and make sure a Task runs.

        Every handler runs inside a real asyncio Task: code under it may use
        ``asyncio.timeout``, ``current_task()`` and aiohttp, which need one.
        """
        self._queue.append(item)
        if len(self._queue) >= self._limits.max_pipelined:
            self._pause_for_pipeline()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._process())

    async def _process(self) -> None:
        queue = self._queue
        try:
            while queue and not self._lost:
                item = queue.popleft()
                if self._pipeline_paused and len(queue) <= self._limits.max_pipelined // 2:
                    self._unpause_pipeline()
                if self._drain_waiter is not None:
                    await self._drain_waiter
                if isinstance(item, Response):
                    self._write(item, head_only=False, keep_alive=False)
                    return
                request, keep_alive = item
                try:
                    response = await self._app(request)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("error answering %s %s", request.method, request.raw_path)
                    response = _INTERNAL_ERROR
                if self._drain_waiter is not None:
                    await self._drain_waiter
                if not self._answer(request, response, keep_alive):
                    return
        finally:
            self._task = None
        self._after_queue_drained()

    def _answer(self, request: Request, response: Response, keep_alive: bool) -> bool:
        """Write the response to ``request``; return whether the connection stays open."""
        if self._server.draining and not self._queue and not self._in_message:
            keep_alive = False
        self._write(response, request.method == "HEAD", keep_alive)
        return keep_alive

    def _after_queue_drained(self, now: float | None = None) -> None:
        """Nothing left to answer: invite a pending body, close, or start the idle timer.

        ``now`` is the time of the current read when called from inside one."""
        if self._lost or self._transport is None:
            return
        if self._pipeline_paused:
            self._unpause_pipeline()
            if self._task is not None or self._queue:
                return  # the stash held more requests; their task will come back here
        if self._expect_pending:
            self._expect_pending = False
            self._transport.write(_CONTINUE)
        if self._no_more and not self._in_message:
            self._transport.close()
        elif not self._in_message:
            self._deadline_kind = _IDLE
            self._deadline = (now or time.monotonic()) + self._limits.keepalive_timeout

    def _write(self, response: Response, head_only: bool, keep_alive: bool) -> None:
        """Serialise and write one response (the caller has waited for the drain)."""
        transport = self._transport
        if transport is None or self._lost:
            return
        try:
            head, body = encode_head(response, keep_alive)
        except (ValueError, UnicodeEncodeError, TypeError):
            # A header with a line break or outside Latin-1, or a body that is not bytes.
            logger.exception("unsendable response (status %s)", response.status)
            head, body = encode_head(_INTERNAL_ERROR, keep_alive)
        if type(body) is not bytes:
            logger.error("response body is %s, not bytes", type(body).__name__)
            head, body = encode_head(_INTERNAL_ERROR, keep_alive)
        if head_only or not body:
            transport.write(b"".join(head))
        elif len(body) < _BIG_BODY:
            head.append(body)
            transport.write(b"".join(head))
        else:
            transport.write(b"".join(head))
            transport.write(body)
        if not keep_alive:
            self._no_more = True
            if self._failed and transport.can_write_eof():
                self._linger(transport)
            else:
                transport.close()

    def _linger(self, transport: asyncio.Transport) -> None:
        """Half-close after an error response and discard input for a while.

        Closing a socket that still has unread input makes the kernel send a reset,
        which can destroy the error response before the client reads it (the client is
        typically still sending the too-large body). So: send FIN, keep reading and
        discarding (``data_received`` drops everything once ``_no_more`` is set), and
        close on the client's EOF or after ``_LINGER_SECONDS``.
        """
        transport.write_eof()
        self._set_deadline(_LINGER, min(_LINGER_SECONDS, self._limits.header_timeout))
        with contextlib.suppress(RuntimeError, AttributeError):
            transport.resume_reading()

    # -- failure, deadlines, shutdown ---------------------------------------------------

    def _fail(self, response: Response) -> None:
        """Stop reading; answer ``response`` after what is queued (at once if nothing is).

        A response never overtakes an earlier one, so "at once" holds exactly when no
        earlier request on this connection is still being answered."""
        if self._failed:
            return
        self._failed = True
        self._stop_reading()
        self._deadline = math.inf
        self._deadline_kind = _NONE
        self._in_message = False
        self._enqueue(response)

    def _fail_headers_too_large(self) -> None:
        self._fail(canned_error(431, "M_TOO_LARGE", "Request headers too large"))

    def _stop_reading(self) -> None:
        self._no_more = True
        if self._transport is not None and not self._transport.is_closing():
            with contextlib.suppress(RuntimeError, AttributeError):
                self._transport.pause_reading()

    def _set_deadline(self, kind: int, seconds: float) -> None:
        self._deadline_kind = kind
        self._deadline = time.monotonic() + seconds

    def check_deadlines(self, now: float) -> None:
        """Called by the server's sweeper: close connections past their deadline."""
        transport = self._transport
        if transport is None or self._lost:
            return
        if now >= self._write_deadline:
            logger.debug("peer %s does not read; aborting", self._client_ip)
            self.abort()
            return
        if now < self._deadline:
            return
        kind = self._deadline_kind
        self._deadline = math.inf
        self._deadline_kind = _NONE
        if kind in (_IDLE, _LINGER):
            transport.close()
        elif self._task is None and not self._queue:
            self._failed = True
            self._no_more = True
            error = canned_error(408, "M_UNKNOWN", "Request timed out")
            self._enqueue(error)
        else:
            transport.close()

    def begin_drain(self) -> None:
        """Shutdown started: close if idle, else finish the current work and then close."""
        if self._transport is None or self._lost:
            return
        if self._task is None and not self._queue and not self._in_message:
            self._transport.close()
        elif not self._in_message:
            self._stop_reading()

    def abort(self) -> None:
        """Close at once, dropping buffers and cancelling a running handler."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()


def _too_large() -> Response:
    return canned_error(413, "M_TOO_LARGE", "Request body too large")
