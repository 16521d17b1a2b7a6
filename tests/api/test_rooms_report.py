"""``POST /rooms/{roomId}/report/{eventId}`` and ``POST /rooms/{roomId}/report`` over HTTP
on SQLite and PostgreSQL: reports are stored; unknown, invisible, redacted events and
non-members get 404 ``M_NOT_FOUND``."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def test_report_event(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    _, c = await hs.user("carol")
    room = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    sent = await hs.ok("PUT", f"{V3}/rooms/{room}/send/m.room.message/1", {"body": "x"}, token=a)
    event_id = sent["event_id"]
    url = f"{V3}/rooms/{room}/report/{quote(event_id)}"
    assert await hs.ok("POST", url, {"reason": "rude", "score": -100}, token=b) == {}
    assert await hs.ok("POST", url, {}, token=b) == {}
    reports = await hs.server.reports.store.for_room(room)
    assert {(r.event_id, r.reporter, r.reason, r.score) for r in reports} == {
        (event_id, bob, "rude", -100),
        (event_id, bob, None, None),
    }
    # not joined, unknown event, event of another room: all 404
    assert await hs.err("POST", url, {"reason": "r"}, token=c) == (404, "M_NOT_FOUND")
    unknown = f"{V3}/rooms/{room}/report/{quote('$nope')}"
    assert await hs.err("POST", unknown, {"reason": "r"}, token=b) == (404, "M_NOT_FOUND")
    other = await hs.create_room(b)
    elsewhere = f"{V3}/rooms/{other}/report/{quote(event_id)}"
    assert await hs.err("POST", elsewhere, {"reason": "r"}, token=b) == (404, "M_NOT_FOUND")
    # a redacted event may be refused (report_content.yaml)
    await hs.ok("PUT", f"{V3}/rooms/{room}/redact/{quote(event_id)}/r", {}, token=a)
    assert await hs.err("POST", url, {"reason": "r"}, token=b) == (404, "M_NOT_FOUND")
    assert await hs.err("POST", url, {"reason": 1}, token=b) == (400, "M_INVALID_PARAM")
    assert len(await hs.server.reports.store.for_room(room)) == 2


async def test_report_invisible_event(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    hv = {"history_visibility": "joined"}
    await hs.ok("PUT", f"{V3}/rooms/{room}/state/m.room.history_visibility/", hv, token=a)
    early = await hs.ok("PUT", f"{V3}/rooms/{room}/send/m.room.message/1", {"b": 1}, token=a)
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    url = f"{V3}/rooms/{room}/report/{quote(early['event_id'])}"
    assert await hs.err("POST", url, {"reason": "r"}, token=b) == (404, "M_NOT_FOUND")


async def test_report_room(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    carol, c = await hs.user("carol")
    room = await hs.create_room(a)
    # the reporter need not be joined
    assert await hs.ok("POST", f"{V3}/rooms/{room}/report", {"reason": ""}, token=c) == {}
    reports = await hs.server.reports.store.for_room(room)
    assert [(r.event_id, r.reporter, r.reason) for r in reports] == [(None, carol, "")]
    assert await hs.err("POST", f"{V3}/rooms/{room}/report", {}, token=c) == (
        400,
        "M_MISSING_PARAM",
    )
    unknown = f"{V3}/rooms/!nope:{SERVER_NAME}/report"
    assert await hs.err("POST", unknown, {"reason": "x"}, token=c) == (404, "M_NOT_FOUND")
    assert (await hs.err("POST", f"{V3}/rooms/{room}/report", {"reason": "x"}))[0] == 401
