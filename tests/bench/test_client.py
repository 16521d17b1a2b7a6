"""The bench client's answer checking, against a real local aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from ranvier_bench.client import Api, BadResponse, NotImplementedByServer, endpoint_template

Handler = Callable[[web.Request], Awaitable[web.Response]]


def test_endpoint_template() -> None:
    assert (
        endpoint_template("/_matrix/client/v3/rooms/%21abc%3Ahs/messages?dir=b")
        == "/_matrix/client/v3/rooms/{id}/messages"
    )
    assert endpoint_template("/_matrix/client/v3/profile/@a:hs/displayname") == (
        "/_matrix/client/v3/profile/{id}/displayname"
    )
    assert endpoint_template("/_matrix/client/v3/sync") == "/_matrix/client/v3/sync"


async def _register(request: web.Request) -> web.Response:
    body = await request.json()
    if "auth" not in body:
        return web.json_response(
            {"session": "s1", "flows": [{"stages": ["m.login.dummy"]}], "params": {}}, status=401
        )
    if body["auth"] != {"type": "m.login.dummy", "session": "s1"}:
        return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
    if body["username"] == "nodevice":
        return web.json_response({"user_id": "@nodevice:hs", "access_token": "t"})
    return web.json_response(
        {"user_id": f"@{body['username']}:hs", "access_token": "tok", "device_id": "D"}
    )


def _json(body: object, status: int = 200) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    return handler


async def _plain404(_: web.Request) -> web.Response:
    return web.Response(status=404, text="nope")


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    app = web.Application()
    app.router.add_post("/_matrix/client/v3/register", _register)
    app.router.add_get("/unknown", _json({"errcode": "M_UNRECOGNIZED", "error": "no"}, 404))
    app.router.add_get("/plain404", _plain404)
    app.router.add_get("/array", _json([1, 2]))
    app.router.add_get("/error", _json({"errcode": "M_UNKNOWN"}, 500))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        yield Api(session, f"http://127.0.0.1:{port}")
    await runner.cleanup()


async def test_register_flow(api: Api) -> None:
    account = await api.register("alice", "pw")
    assert account.user_id == "@alice:hs"
    assert account.localpart == "alice"
    assert (account.access_token, account.device_id) == ("tok", "D")


async def test_missing_field_fails(api: Api) -> None:
    with pytest.raises(BadResponse, match="device_id"):
        await api.register("nodevice", "pw")


async def test_unrecognized_is_not_implemented(api: Api) -> None:
    with pytest.raises(NotImplementedByServer, match="GET /unknown"):
        await api.call("GET", "/unknown")


async def test_other_errors_are_bad_responses(api: Api) -> None:
    with pytest.raises(BadResponse, match="got 404"):
        await api.call("GET", "/plain404")  # a 404 without M_UNRECOGNIZED is just wrong
    with pytest.raises(BadResponse, match="not a JSON object"):
        await api.call("GET", "/array")
    with pytest.raises(BadResponse, match="expected HTTP 200, got 500"):
        await api.call("GET", "/error")
    with pytest.raises(BadResponse, match=r"ClientConnectorError|no answer"):
        await Api(api.session, "http://127.0.0.1:1").call("GET", "/x", timeout=5)
