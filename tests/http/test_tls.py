"""HTTPS listener with a freshly generated self-signed certificate."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from pathlib import Path

import pytest

from ranvier.http.app import build_app
from ranvier.http.server import HttpLimits, HttpServer
from ranvier.http.tls import client_context_trusting, make_self_signed, server_context
from tests.http.conftest import default_router, read_response


async def test_https_and_http_listeners_side_by_side(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(make_self_signed, cert, key, ("localhost", "127.0.0.1"))
    assert os.stat(key).st_mode & 0o077 == 0
    server = HttpServer(build_app(default_router()), HttpLimits())
    tls_port = (await server.start("127.0.0.1", 0, server_context(cert, key)))[0][1]
    plain_port = (await server.start("127.0.0.1", 0))[0][1]
    try:
        client_ctx = client_context_trusting(cert)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", tls_port, ssl=client_ctx, server_hostname="localhost"
        )
        for _ in range(2):  # keep-alive over TLS
            writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            r = await read_response(reader)
            assert r.status == 200
            assert r.json()["body"] == "abc"  # type: ignore[index]
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert ssl_object.selected_alpn_protocol() in (None, "http/1.1")
        writer.close()

        # The certificate is checked: a client trusting nothing else refuses a wrong name.
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection(
                "127.0.0.1", tls_port, ssl=client_ctx, server_hostname="not-this-host"
            )

        reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader)).status == 200
        writer.close()
    finally:
        await server.shutdown(1.0)


async def test_plaintext_on_tls_port_is_dropped(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(make_self_signed, cert, key)
    server = HttpServer(build_app(default_router()), HttpLimits())
    port = (await server.start("127.0.0.1", 0, server_context(cert, key)))[0][1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        with contextlib.suppress(ConnectionResetError):
            data = await asyncio.wait_for(reader.read(), 5)
        assert not data.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await server.shutdown(1.0)
