"""Pushers, unread counts, ``GET /notifications`` and a real push gateway, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from ranvier.http.tls import make_self_signed
from tests.api.conftest import Client, ClientFactory
from tests.api.sync_helpers import V3, create_room, join, register, send, sync


def pusher_body(url: str, pushkey: str = "key", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "http",
        "app_id": "test.app",
        "app_display_name": "Test",
        "device_display_name": "Phone",
        "profile_tag": "tag",
        "pushkey": pushkey,
        "lang": "en",
        "data": {"url": url, **extra},
    }


class Gateway:
    """A push gateway on 127.0.0.1 that records what it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.reject: set[str] = set()
        self.failures_left = 0
        self.arrived = asyncio.Event()
        self.url = ""

    async def notify(self, request: web.Request) -> web.Response:
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.json_response({"error": "busy"}, status=503)
        body = await request.json()
        self.received.append(body)
        self.arrived.set()
        keys = [d["pushkey"] for d in body["notification"]["devices"]]
        return web.json_response({"rejected": [k for k in keys if k in self.reject]})

    async def wait_for(self, check: Any, timeout: float = 5.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for body in self.received:
                if check(body["notification"]):
                    return body
            self.arrived.clear()
            remaining = deadline - loop.time()
            assert remaining > 0, f"no matching push in {self.received}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/_matrix/push/v1/notify", gw.notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gw.url = f"http://127.0.0.1:{port}/_matrix/push/v1/notify"
    yield gw
    await runner.cleanup()


async def test_pushers_set_list_delete_and_errors(client: Client) -> None:
    _, tok = await register(client, "alice")
    url = "https://push.example.org/_matrix/push/v1/notify"
    body = pusher_body(url, format="event_id_only", custom="x")
    assert await client.request("POST", f"{V3}/pushers/set", body, token=tok) == (200, {})
    status, listed = await client.request("GET", f"{V3}/pushers", token=tok)
    assert status == 200
    assert listed["pushers"] == [
        {
            "pushkey": "key",
            "kind": "http",
            "app_id": "test.app",
            "app_display_name": "Test",
            "device_display_name": "Phone",
            "profile_tag": "tag",
            "lang": "en",
            "data": {"url": url, "format": "event_id_only", "custom": "x"},
        }
    ]
    # Same app_id + pushkey replaces; another pushkey adds.
    body["lang"] = "fr"
    assert (await client.request("POST", f"{V3}/pushers/set", body, token=tok))[0] == 200
    other = pusher_body(url, "key2")
    assert (await client.request("POST", f"{V3}/pushers/set", other, token=tok))[0] == 200
    listed = (await client.request("GET", f"{V3}/pushers", token=tok))[1]["pushers"]
    assert sorted((p["pushkey"], p["lang"]) for p in listed) == [("key", "fr"), ("key2", "en")]
    # kind null deletes.
    delete = {"kind": None, "app_id": "test.app", "pushkey": "key2"}
    assert (await client.request("POST", f"{V3}/pushers/set", delete, token=tok))[0] == 200
    listed = (await client.request("GET", f"{V3}/pushers", token=tok))[1]["pushers"]
    assert [p["pushkey"] for p in listed] == ["key"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in pusher_body(url).items() if k != "app_id"}, "M_MISSING_PARAM"),
        ({k: v for k, v in pusher_body(url).items() if k != "lang"}, "M_MISSING_PARAM"),
        ({k: v for k, v in pusher_body(url).items() if k != "data"}, "M_MISSING_PARAM"),
        ({**pusher_body(url), "data": {}}, "M_MISSING_PARAM"),
        (pusher_body("https://push.example.org/wrong/path"), "M_INVALID_PARAM"),
        (pusher_body("not a url"), "M_INVALID_PARAM"),
        (pusher_body("ftp://push.example.org/_matrix/push/v1/notify"), "M_INVALID_PARAM"),
        ({**pusher_body(url), "kind": "carrier_pigeon"}, "M_INVALID_PARAM"),
        ({**pusher_body(url), "app_id": "a" * 65}, "M_INVALID_PARAM"),
        ({**pusher_body(url), "pushkey": "k" * 513}, "M_INVALID_PARAM"),
        ({**pusher_body(url), "data": "x"}, "M_INVALID_PARAM"),
        ({**pusher_body(url), "pushkey": "nul\u0000key"}, "M_INVALID_PARAM"),
        ({**pusher_body(url), "profile_tag": "t\u0000"}, "M_INVALID_PARAM"),
    ]
    for body, errcode in bad:
        status, err = await client.request("POST", f"{V3}/pushers/set", body, token=tok)
        assert (status, err.get("errcode")) == (400, errcode), body


async def test_pushers_go_with_the_device_that_made_them(client: Client) -> None:
    reg = await client.register("nina", "old-pass")
    tok = reg["access_token"]
    status, other = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "nina", "password": "old-pass"}
    )
    assert status == 200
    url = "https://push.example.org/_matrix/push/v1/notify"
    status, _ = await client.request(
        "POST", f"{V3}/pushers/set", pusher_body(url, "mine"), token=tok
    )
    assert status == 200
    status, _ = await client.request(
        "POST", f"{V3}/pushers/set", pusher_body(url, "theirs"), token=other["access_token"]
    )
    assert status == 200
    status, first = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "new-pass"}, token=tok
    )
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "nina"},
        "password": "old-pass",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "new-pass", "auth": auth}, token=tok
    )
    assert status == 200, body
    listed = (await client.request("GET", f"{V3}/pushers", token=tok))[1]["pushers"]
    assert [p["pushkey"] for p in listed] == ["mine"]
    assert (await client.request("POST", f"{V3}/logout", {}, token=tok))[0] == 200
    assert await client.server.push.pushers.for_user(reg["user_id"]) == []


async def test_unread_counts_in_sync_and_reset_by_receipts(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    carol, c_tok = await register(client, "carol")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    await join(client, c_tok, room)
    first = await send(client, b_tok, room, "hello")
    body = await sync(client, a_tok)
    assert body["rooms"]["join"][room]["unread_notifications"] == {
        "notification_count": 1,
        "highlight_count": 0,
    }
    # The sender's own count is not touched.
    bob_sync = await sync(client, b_tok)
    assert bob_sync["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 0
    # A mention highlights, in the same sync as the event.
    since = body["next_batch"]
    status, _ = await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room)}/send/m.room.message/m1",
        {"msgtype": "m.text", "body": "hey alice", "m.mentions": {"user_ids": [alice]}},
        token=b_tok,
    )
    assert status == 200
    later = await sync(client, a_tok, since=since, timeout=5000)
    assert later["rooms"]["join"][room]["unread_notifications"] == {
        "notification_count": 2,
        "highlight_count": 1,
    }
    # A notice does not count; a receipt on the first message leaves the mention.
    await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room)}/send/m.room.message/n1",
        {"msgtype": "m.notice", "body": "bot"},
        token=b_tok,
    )
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(first)}", {}, token=a_tok
    )
    assert status == 200
    body = await sync(client, a_tok)
    assert body["rooms"]["join"][room]["unread_notifications"] == {
        "notification_count": 1,
        "highlight_count": 1,
    }
    # A private receipt further on clears the rest; alice sending also marks read.
    last = await send(client, c_tok, room, "from carol")
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read.private/{quote(last)}", {}, token=a_tok
    )
    assert status == 200
    body = await sync(client, a_tok)
    assert body["rooms"]["join"][room]["unread_notifications"] == {
        "notification_count": 0,
        "highlight_count": 0,
    }
    await send(client, b_tok, room, "again")
    await send(client, a_tok, room, "my reply")
    body = await sync(client, a_tok)
    assert body["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 0
    assert carol and bob


async def test_notifications_endpoint(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    ids = [await send(client, b_tok, room, f"m{i}") for i in range(3)]
    await client.server.push.processor.caught_up(2**62)
    status, body = await client.request("GET", f"{V3}/notifications", token=a_tok)
    assert status == 200
    notes = body["notifications"]
    assert [n["event"]["event_id"] for n in notes] == ids[::-1]
    assert all(n["read"] is False and n["room_id"] == room for n in notes)
    assert notes[0]["actions"] == ["notify", {"set_tweak": "sound", "value": "default"}]
    assert "profile_tag" in notes[0] and isinstance(notes[0]["ts"], int)
    status, page = await client.request("GET", f"{V3}/notifications?limit=2", token=a_tok)
    assert [n["event"]["event_id"] for n in page["notifications"]] == ids[:0:-1]
    status, rest = await client.request(
        "GET", f"{V3}/notifications?limit=2&from={page['next_token']}", token=a_tok
    )
    assert [n["event"]["event_id"] for n in rest["notifications"]] == ids[:1]
    await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(ids[1])}", {}, token=a_tok
    )
    body = (await client.request("GET", f"{V3}/notifications", token=a_tok))[1]
    assert [n["read"] for n in body["notifications"]] == [False, True, True]
    body = (await client.request("GET", f"{V3}/notifications?only=highlight", token=a_tok))[1]
    assert body["notifications"] == []
    status, err = await client.request("GET", f"{V3}/notifications?from=abc", token=a_tok)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")
    assert alice


async def test_a_real_gateway_receives_notifications(client: Client, gateway: Gateway) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat", name="Push Room")
    await join(client, b_tok, room)
    status, _ = await client.request(
        "POST", f"{V3}/pushers/set", pusher_body(gateway.url, "k1", extra="x"), token=a_tok
    )
    assert status == 200
    client.server.push.gateway.backoff_s = 0.05
    gateway.failures_left = 1  # the first attempt gets a 503: retried
    event_id = await send(client, b_tok, room, "Room message")
    body = await gateway.wait_for(lambda n: n.get("event_id") == event_id)
    n = body["notification"]
    assert n["id"] == event_id and n["room_id"] == room and n["type"] == "m.room.message"
    assert n["sender"] == bob and n["room_name"] == "Push Room"
    assert n["content"] == {"msgtype": "m.text", "body": "Room message"}
    assert n["counts"] == {"unread": 1}
    assert n["prio"] == "high"  # 1:1 room: the rule sets a sound
    assert n["devices"] == [
        {
            "app_id": "test.app",
            "pushkey": "k1",
            "pushkey_ts": n["devices"][0]["pushkey_ts"],
            "data": {"extra": "x"},
            "tweaks": {"sound": "default"},
        }
    ]
    # A read receipt sends the new badge count.
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(event_id)}", {}, token=a_tok
    )
    assert status == 200
    badge = await gateway.wait_for(lambda n: "event_id" not in n)
    assert badge["notification"]["counts"] == {"unread": 0}
    # An invite to another room is pushed with membership and user_is_target.
    other = await create_room(client, b_tok)
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{quote(other)}/invite", {"user_id": alice}, token=b_tok
    )
    assert status == 200
    invite = await gateway.wait_for(lambda n: n.get("type") == "m.room.member")
    assert invite["notification"]["membership"] == "invite"
    assert invite["notification"]["user_is_target"] is True
    # A rejected pushkey removes the pusher.
    status, _ = await client.request(
        "POST", f"{V3}/pushers/set", pusher_body(gateway.url, "k2"), token=a_tok
    )
    gateway.reject.add("k1")
    event_id = await send(client, b_tok, room, "second")
    await gateway.wait_for(
        lambda n: n.get("event_id") == event_id and n["devices"][0]["pushkey"] == "k2"
    )
    await client.server.push.gateway.idle()
    listed = (await client.request("GET", f"{V3}/pushers", token=a_tok))[1]["pushers"]
    assert [p["pushkey"] for p in listed] == ["k2"]


async def test_event_id_only_format_and_muted_room(client: Client, gateway: Gateway) -> None:
    alice, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    status, _ = await client.request(
        "POST",
        f"{V3}/pushers/set",
        pusher_body(gateway.url, "k", format="event_id_only"),
        token=a_tok,
    )
    assert status == 200
    status, _ = await client.request(
        "PUT",
        f"{V3}/pushrules/global/room/{quote(room)}",
        {"actions": ["dont_notify"]},
        token=a_tok,
    )
    assert status == 200
    await send(client, b_tok, room, "muted")
    status, body = await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room)}/send/m.room.message/mention",
        {"msgtype": "m.text", "body": "alice!", "m.mentions": {"user_ids": [alice]}},
        token=b_tok,
    )
    assert status == 200
    mention = body["event_id"]
    got = await gateway.wait_for(lambda n: "event_id" in n)
    n = got["notification"]
    assert n["event_id"] == mention
    assert set(n) == {"event_id", "room_id", "counts", "prio", "devices"}
    assert n["devices"][0]["tweaks"] == {"sound": "default", "highlight": True}
    assert n["devices"][0]["data"] == {"format": "event_id_only"}


async def test_upgrade_copies_room_push_rules(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    status, _ = await client.request(
        "PUT", f"{V3}/pushrules/global/room/{quote(room)}", {"actions": ["notify"]}, token=b_tok
    )
    assert status == 200
    status, body = await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/upgrade", {"new_version": "10"}, token=a_tok
    )
    assert status == 200, body
    new_room = body["replacement_room"]
    await join(client, b_tok, new_room)
    for _ in range(50):
        await client.server.upgrade_follower.drain()
        status, rules = await client.request("GET", f"{V3}/pushrules/global/room/", token=b_tok)
        if any(r["rule_id"] == new_room for r in rules):
            break
        await asyncio.sleep(0.05)
    assert [r["rule_id"] for r in rules] == [new_room, room]


async def test_gateway_certificates_are_checked_unless_disabled(
    start_server: ClientFactory, tmp_path: Path
) -> None:
    """``client_api.push_disable_tls_validation`` lets a self-signed gateway through."""
    make_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", ("127.0.0.1",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/_matrix/push/v1/notify", gw.notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/_matrix/push/v1/notify"
    try:
        for insecure in (False, True):
            c = await start_server(push_disable_tls_validation=insecure)
            c.server.push.gateway.max_attempts = 1
            _, a_tok = await register(c, "alice")
            _, b_tok = await register(c, "bob")
            room = await create_room(c, a_tok, preset="public_chat")
            await join(c, b_tok, room)
            body = pusher_body(url, f"tls{insecure}")
            assert (await c.request("POST", f"{V3}/pushers/set", body, token=a_tok))[0] == 200
            event_id = await send(c, b_tok, room, "over tls")
            await c.server.push.processor.caught_up(2**62)
            await c.server.push.gateway.idle()
            got = [b for b in gw.received if b["notification"].get("event_id") == event_id]
            assert len(got) == (1 if insecure else 0)
    finally:
        await runner.cleanup()


async def test_membership_changes_update_the_cached_room(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    carol, c_tok = await register(client, "carol")
    room = await create_room(client, a_tok, preset="public_chat")
    processor = client.server.push.processor
    await send(client, a_tok, room, "first")  # loads the room
    await processor.caught_up(2**62)
    loads = processor.room_loads
    await join(client, b_tok, room)
    await join(client, c_tok, room)
    await send(client, a_tok, room, "to both")
    await processor.caught_up(2**62)
    counts = client.server.push.notifications
    assert (await counts.counts(bob))[room] == (1, 0)
    assert (await counts.counts(carol))[room] == (1, 0)
    status, _ = await client.request("POST", f"{V3}/rooms/{quote(room)}/leave", {}, token=c_tok)
    assert status == 200
    await send(client, a_tok, room, "to bob")
    await processor.caught_up(2**62)
    assert (await counts.counts(bob))[room] == (2, 0)
    # Her own leave event read the room; nothing after it notified her.
    assert (await counts.counts(carol))[room] == (0, 0)
    # Three members (then two): the one-to-one rule applies only once carol left.
    room_state = await processor.room_state(room)
    assert room_state is not None and room_state.joined_count == 2
    assert processor.room_loads == loads  # no reload for the joins and the leave
    status, _ = await client.request(
        "PUT", f"{V3}/rooms/{quote(room)}/state/m.room.name", {"name": "Renamed"}, token=a_tok
    )
    assert status == 200
    await send(client, a_tok, room, "renamed")
    await processor.caught_up(2**62)
    room_state = await processor.room_state(room)
    assert room_state is not None and room_state.room_name() == "Renamed"


async def test_thread_counts_and_threaded_receipts(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    root = await send(client, b_tok, room, "root")

    async def in_thread(txn: str) -> str:
        status, body = await client.request(
            "PUT",
            f"{V3}/rooms/{quote(room)}/send/m.room.message/{txn}",
            {
                "msgtype": "m.text",
                "body": txn,
                "m.relates_to": {"rel_type": "m.thread", "event_id": root},
            },
            token=b_tok,
        )
        assert status == 200, body
        return str(body["event_id"])

    t1 = await in_thread("t1")
    await in_thread("t2")
    main2 = await send(client, b_tok, room, "main two")
    threaded = {"room": {"timeline": {"unread_thread_notifications": True}}}
    body = await sync(client, a_tok, filter=threaded)
    entry = body["rooms"]["join"][room]
    assert entry["unread_notifications"] == {"notification_count": 2, "highlight_count": 0}
    assert entry["unread_thread_notifications"] == {
        root: {"notification_count": 2, "highlight_count": 0}
    }
    total = (await sync(client, a_tok))["rooms"]["join"][room]["unread_notifications"]
    assert total["notification_count"] == 4
    # A receipt in the thread clears that thread up to the event only.
    status, _ = await client.request(
        "POST",
        f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(t1)}",
        {"thread_id": root},
        token=a_tok,
    )
    assert status == 200
    entry = (await sync(client, a_tok, filter=threaded))["rooms"]["join"][room]
    assert entry["unread_notifications"]["notification_count"] == 2
    assert entry["unread_thread_notifications"][root]["notification_count"] == 1
    # A main-timeline receipt clears main only; an unthreaded one clears everything.
    status, _ = await client.request(
        "POST",
        f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(main2)}",
        {"thread_id": "main"},
        token=a_tok,
    )
    assert status == 200
    entry = (await sync(client, a_tok, filter=threaded))["rooms"]["join"][room]
    assert entry["unread_notifications"]["notification_count"] == 0
    assert entry["unread_thread_notifications"][root]["notification_count"] == 1
    last = await send(client, b_tok, room, "main three")
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(last)}", {}, token=a_tok
    )
    assert status == 200
    entry = (await sync(client, a_tok, filter=threaded))["rooms"]["join"][room]
    assert entry["unread_notifications"]["notification_count"] == 0
    assert "unread_thread_notifications" not in entry


async def test_erasing_an_account_forgets_its_push_data(client: Client) -> None:
    reg = await client.register("nina", "pw")
    me, tok = reg["user_id"], reg["access_token"]
    _, b_tok = await register(client, "bob")
    room = await create_room(client, tok, preset="public_chat")
    await join(client, b_tok, room)
    status, _ = await client.request(
        "PUT", f"{V3}/pushrules/global/sender/{quote('@spam:x')}", {"actions": []}, token=tok
    )
    assert status == 200
    url = "https://push.example.org/_matrix/push/v1/notify"
    assert (await client.request("POST", f"{V3}/pushers/set", pusher_body(url), token=tok))[
        0
    ] == 200
    await send(client, b_tok, room, "hello")
    await client.server.push.processor.caught_up(2**62)
    push = client.server.push
    assert (await push.notifications.counts(me))[room] == (1, 0)
    status, first = await client.request("POST", f"{V3}/account/deactivate", {}, token=tok)
    auth = {
        "type": "m.login.password",
        "user": "nina",
        "password": "pw",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/account/deactivate", {"erase": True, "auth": auth}, token=tok
    )
    assert status == 200, body
    assert await push.pushers.for_user(me) == []
    assert (await push.rules.load(me)).to_json() == {"user": {}, "defaults": {}}
    assert await push.notifications.counts(me) == {}


class _Mailbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


async def test_email_pusher_mails_a_summary_of_unread_notifications(client: Client) -> None:
    me, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat", name="Mail Room")
    await join(client, b_tok, room)
    email = client.server.push.email
    mailbox = _Mailbox()
    email.mailer = mailbox  # type: ignore[assignment]
    email.delay_s, email.throttle_s = 0.05, 0.3
    body = {
        "kind": "email",
        "app_id": "m.email",
        "app_display_name": "Email",
        "device_display_name": "alice@example.org",
        "pushkey": "alice@example.org",
        "lang": "en",
        "data": {},
    }
    assert (await client.request("POST", f"{V3}/pushers/set", body, token=a_tok))[0] == 200
    await send(client, b_tok, room, "first message")
    last = await send(client, b_tok, room, "second message")
    for _ in range(100):
        if mailbox.sent:
            break
        await asyncio.sleep(0.02)
    assert len(mailbox.sent) == 1
    to, subject, text = mailbox.sent[0]
    assert to == "alice@example.org" and subject.startswith("2 unread notifications")
    assert "Mail Room - bob: first message" in text and "second message" in text
    assert me in text
    # After a receipt, a new unread message gets its own mail, once the throttle
    # window has passed; it lists only what is unread.
    await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(last)}", {}, token=a_tok
    )
    await send(client, b_tok, room, "third")
    for _ in range(100):
        if len(mailbox.sent) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(mailbox.sent) == 2
    assert "third" in mailbox.sent[1][2] and "first message" not in mailbox.sent[1][2]
    # Read before the check: no mail.
    fourth = await send(client, b_tok, room, "fourth")
    await client.request(
        "POST", f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(fourth)}", {}, token=a_tok
    )
    await asyncio.sleep(0.5)
    assert len(mailbox.sent) == 2
