"""The push gateway sender against a real loopback HTTP server: request bodies,
giving up after the retries, the per-pusher queue bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ranvier.push.gateway import PushGateway, PushItem, request_body
from ranvier.push.pushers import Pusher

ME = "@alice:example.org"


def _pusher(url: str, pushkey: str = "k", **data: Any) -> Pusher:
    return Pusher(
        ME, "app", pushkey, "http", "App", "Phone", None, "en", {"url": url, **data}, "D", 7
    )


class _NoStore:
    async def delete(self, user_id: str, app_id: str, pushkey: str) -> None:
        raise AssertionError("nothing is rejected here")


@pytest.fixture
async def failing() -> AsyncIterator[tuple[str, list[int]]]:
    hits: list[int] = []

    async def notify(request: web.Request) -> web.Response:
        hits.append(1)
        await asyncio.sleep(0)
        return web.json_response({}, status=500)

    app = web.Application()
    app.router.add_post("/_matrix/push/v1/notify", notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/_matrix/push/v1/notify", hits
    await runner.cleanup()


def test_request_body_shapes() -> None:
    event = {
        "id": "$e",
        "event_id": "$e",
        "room_id": "!r:x",
        "type": "m.room.message",
        "sender": "@bob:x",
        "content": {"body": "hi"},
        "counts": {"unread": 3},
    }
    full = request_body(
        PushItem(_pusher("https://g/_matrix/push/v1/notify", x=1), event, ["notify"])
    )
    n = full["notification"]
    assert n["content"] == {"body": "hi"} and n["prio"] == "low"
    assert n["devices"] == [
        {"app_id": "app", "pushkey": "k", "pushkey_ts": 7, "data": {"x": 1}, "tweaks": {}}
    ]
    loud = ["notify", {"set_tweak": "highlight"}]
    only_id = request_body(
        PushItem(_pusher("https://g/_matrix/push/v1/notify", format="event_id_only"), event, loud)
    )["notification"]
    assert set(only_id) == {"event_id", "room_id", "counts", "prio", "devices"}
    assert only_id["prio"] == "high"
    badge = request_body(
        PushItem(_pusher("https://g/_matrix/push/v1/notify"), {"counts": {"unread": 0}}, [])
    )
    assert badge == {
        "notification": {
            "counts": {"unread": 0},
            "devices": [
                {"app_id": "app", "pushkey": "k", "pushkey_ts": 7, "data": {}, "tweaks": {}}
            ],
        }
    }


async def test_retries_then_gives_up(failing: tuple[str, list[int]]) -> None:
    url, hits = failing
    gateway = PushGateway(_NoStore(), backoff_s=0.01, max_backoff_s=0.02, max_attempts=3)  # type: ignore[arg-type]
    gateway.enqueue(PushItem(_pusher(url), {"event_id": "$e"}, ["notify"]))
    await gateway.idle()
    assert len(hits) == 3 and gateway.failed == 1 and gateway.sent == 0
    await gateway.close()


async def test_queue_is_bounded_per_pusher(failing: tuple[str, list[int]]) -> None:
    url, _ = failing
    gateway = PushGateway(_NoStore(), backoff_s=5, max_attempts=2, max_queued=3)  # type: ignore[arg-type]
    for i in range(10):
        gateway.enqueue(PushItem(_pusher(url), {"event_id": f"${i}"}, ["notify"]))
    assert gateway.dropped >= 6
    await gateway.close()
