"""Routing through a real server: static and parameter routes, 404/405, keep-alive."""

from __future__ import annotations

from tests.http.conftest import Serve


async def test_static_route_and_keepalive(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    for _ in range(3):
        r = await client.request("GET", "/_matrix/client/versions")
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == len(r.body)
        assert r.json()["path"] == "/_matrix/client/versions"  # type: ignore[index]
    assert run.server.connection_count == 1


async def test_percent_encoded_param(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    r = await client.request(
        "GET", "/_matrix/client/v3/profile/%40alice%2Fx%3Aexample.org/displayname"
    )
    assert r.status == 200
    assert r.json()["params"] == {"userId": "@alice/x:example.org"}  # type: ignore[index]


async def test_404_and_405(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    r = await client.request("GET", "/_matrix/client/v3/nothing")
    assert r.status == 404
    assert r.json() == {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
    r = await client.request("DELETE", "/echo")
    assert r.status == 405
    assert r.json()["errcode"] == "M_UNRECOGNIZED"  # type: ignore[index]
    assert r.headers["allow"] == "GET, HEAD, POST, PUT"
