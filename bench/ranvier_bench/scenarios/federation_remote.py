"""A scripted remote homeserver for federation benchmarks: its own signing key, its own
HTTPS listener serving its keys, and just enough of the Server-Server API to join a room
and push signed transactions at a homeserver under test.

Theory of operation
-------------------
The remote is named ``127.0.0.1:<port>`` (an IP literal, so the server under test
connects straight to it) and serves, over TLS with a self-signed certificate:

* ``GET /_matrix/key/v2/server`` -- its self-signed key response (the server under
  test fetches it to check the remote's request and event signatures);
* ``PUT /_matrix/federation/v1/send/{txnId}`` -- accepts anything (the server under
  test sends its own events and EDUs back);
* anything else -- 404 ``M_UNRECOGNIZED``.

:meth:`ScriptedRemote.join` joins one of its users to a room on the server under test
with ``make_join``/``send_join`` v2 (server-server-api "Joining Rooms").
:meth:`ScriptedRemote.build_messages` then prepares a chain of signed
``m.room.message`` events (each one's prev event is the one before, auth events the
create event, the power levels and the user's join), and :meth:`ScriptedRemote.send`
pushes them in transactions of 50 PDUs, one transaction at a time as a real server
does (server-server-api "Transactions"), optionally waiting until the receiver has
persisted each transaction's last PDU before the next. Every request is signed with ``X-Matrix``.
The events are built before the clock starts, so the figure is the receiver's cost of
the full checks on receipt of a PDU (signatures, hashes, auth, state).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import yarl
from aiohttp import web

from ranvier.config.keyfile import ServerKeys
from ranvier.core.builder import build_event
from ranvier.core.events import Event
from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from ranvier.core.signing import generate_signing_key, sign_event
from ranvier.federation.local_keys import LocalServerKeys
from ranvier.federation.xmatrix import authorization_header
from ranvier.http.tls import make_self_signed

PDUS_PER_TXN = 50


def _seg(value: str) -> str:
    return quote(value, safe="")


class ScriptedRemote:
    """A minimal remote homeserver (see the module docstring)."""

    def __init__(self, directory: Path, port: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.name = f"127.0.0.1:{port}"
        self.key = generate_signing_key("bench")
        self.keys = LocalServerKeys(self.name, ServerKeys(self.key, ()), 7 * 24 * 3600 * 1000)
        self.cert, self.tls_key = directory / "tls.crt", directory / "tls.key"
        make_self_signed(self.cert, self.tls_key, ("127.0.0.1",))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._txn = 0
        self.rooms: dict[str, dict[str, Any]] = {}
        """room id -> what the remote knows: version, auth events, the latest event."""

    # ---- serving ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1:port with TLS."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/_matrix/key/v2/server", self._keys)
        app.router.add_get("/_matrix/key/v2/server/{key_id}", self._keys)
        app.router.add_put("/_matrix/federation/v1/send/{txn}", self._send)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.tls_key)
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False), timeout=aiohttp.ClientTimeout(total=600)
        )

    async def stop(self) -> None:
        """Stop listening and close connections."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _keys(self, request: web.Request) -> web.Response:
        del request
        return web.Response(
            body=orjson.dumps(self.keys.response()), content_type="application/json"
        )

    async def _send(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"pdus": {}})

    async def _unknown(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized"}, status=404)

    # ---- requests -----------------------------------------------------------------------

    async def request(self, destination: str, method: str, path: str, body: Any = None) -> Any:
        """A signed request to ``destination``; the JSON answer (raises on non-2xx)."""
        assert self._session is not None, "start() first"
        header = authorization_header(self.key, self.name, destination, method, path, body)
        data = None if body is None else orjson.dumps(body)
        async with self._session.request(
            method,
            yarl.URL(f"https://{destination}{path}", encoded=True),
            data=data,
            headers={"Authorization": header, "Content-Type": "application/json"},
        ) as resp:
            answer = await resp.json(content_type=None)
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path} -> {resp.status}: {answer}")
            return answer

    async def join(self, destination: str, room_id: str, localpart: str = "remote") -> str:
        """Join ``@localpart:<remote>`` to ``room_id`` through ``destination``; the user id."""
        user_id = f"@{localpart}:{self.name}"
        versions = "&".join(f"ver={_seg(v)}" for v in KNOWN_ROOM_VERSIONS)
        made = await self.request(
            destination,
            "GET",
            f"/_matrix/federation/v1/make_join/{_seg(room_id)}/{_seg(user_id)}?{versions}",
        )
        rv = get_room_version(str(made.get("room_version", "1")))
        pdu = dict(made["event"])
        pdu["origin_server_ts"] = int(time.time() * 1000)
        pdu.pop("origin", None)
        signed = sign_event(pdu, self.name, self.key, rv)
        event_id = compute_event_id(signed, rv)
        answer = await self.request(
            destination,
            "PUT",
            f"/_matrix/federation/v2/send_join/{_seg(room_id)}/{_seg(event_id)}",
            signed,
        )
        state = [Event(p, rv) for p in answer["state"]]
        by_key = {e.state_tuple: e for e in state}
        join = Event(signed, rv, event_id)
        self.rooms[room_id] = {
            "version": rv,
            "user": user_id,
            "auth": [by_key[("m.room.create", "")], by_key[("m.room.power_levels", "")], join],
            "latest": join,
        }
        return user_id

    def build_messages(self, room_id: str, count: int) -> list[Event]:
        """``count`` signed messages chained after the latest event of ``room_id``."""
        room = self.rooms[room_id]
        rv: RoomVersion = room["version"]
        out: list[Event] = []
        latest: Event = room["latest"]
        for i in range(count):
            latest = build_event(
                room_version=rv,
                room_id=room_id,
                sender=room["user"],
                event_type="m.room.message",
                content={"msgtype": "m.text", "body": f"bench {i}"},
                prev_events=[latest],
                auth_events=room["auth"],
                origin=self.name,
                signing_key=self.key,
            )
            out.append(latest)
        room["latest"] = latest
        return out

    async def send(
        self,
        destination: str,
        events: list[Event],
        persisted: Callable[[str], Awaitable[None]] | None = None,
    ) -> int:
        """Push ``events`` in transactions of 50, one at a time; how many the
        destination accepted (answered ``{}``). With ``persisted``, each next
        transaction waits for ``await persisted(last event id)``: a receiver that answers
        before it persists (Synapse stages PDUs and drops staged backlogs over ~100
        events) is paced at its real speed."""
        accepted = 0
        for i in range(0, len(events), PDUS_PER_TXN):
            batch = events[i : i + PDUS_PER_TXN]
            self._txn += 1
            body = {
                "origin": self.name,
                "origin_server_ts": int(time.time() * 1000),
                "pdus": [e.pdu for e in batch],
            }
            answer = await self.request(
                destination, "PUT", f"/_matrix/federation/v1/send/bench{self._txn}", body
            )
            results = answer.get("pdus", {})
            accepted += sum(1 for e in batch if results.get(e.event_id) == {})
            if persisted is not None:
                await persisted(batch[-1].event_id)
        return accepted
