"""``/relations`` and ``/threads`` over HTTP on SQLite and PostgreSQL, and bundled
aggregations on ``GET /event`` (the latest edit, thread summaries, references)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.test_directory_fixtures import V1, V3, Hs, hs  # noqa: F401


def rel(rel_type: str, parent: str, **extra: Any) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


class Sender:
    def __init__(self, hs: Hs, room: str) -> None:  # noqa: F811
        self.hs = hs
        self.room = room
        self.n = 0

    async def __call__(
        self, token: str, content: dict[str, Any], etype: str = "m.room.message"
    ) -> str:
        self.n += 1
        out = await self.hs.ok(
            "PUT", f"{V3}/rooms/{self.room}/send/{etype}/t{self.n}", content, token=token
        )
        return str(out["event_id"])


async def setup(hs: Hs) -> tuple[str, str, str, Sender]:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    return room, a, b, Sender(hs, room)


def ids(body: dict[str, Any]) -> list[str]:
    return [e["event_id"] for e in body["chunk"]]


async def test_relations_paging_filters_and_recursion(hs: Hs) -> None:  # noqa: F811
    room, a, b, send = await setup(hs)
    root = await send(a, {"body": "root"})
    t1 = await send(b, {"body": "1", **rel("m.thread", root)})
    t2 = await send(a, {"body": "2", **rel("m.thread", root)})
    like = await send(b, rel("m.annotation", root, key="👍"), "m.reaction")
    ref = await send(b, {"body": "r", **rel("m.reference", t1)})
    base = f"{V1}/rooms/{room}/relations/{quote(root)}"

    everything = await hs.ok("GET", base, token=b)
    assert ids(everything) == [like, t2, t1] and "next_batch" not in everything
    page1 = await hs.ok("GET", f"{base}?limit=2", token=b)
    assert ids(page1) == [like, t2]
    page2 = await hs.ok("GET", f"{base}?limit=2&from={page1['next_batch']}", token=b)
    assert ids(page2) == [t1] and "next_batch" not in page2
    forwards = await hs.ok("GET", f"{base}?dir=f&limit=2", token=b)
    assert ids(forwards) == [t1, t2]
    assert ids(await hs.ok("GET", f"{base}/m.thread", token=b)) == [t2, t1]
    assert ids(await hs.ok("GET", f"{base}/m.annotation/m.reaction", token=b)) == [like]
    assert ids(await hs.ok("GET", f"{base}/m.annotation/m.room.message", token=b)) == []
    deep = await hs.ok("GET", f"{base}?recurse=true", token=b)
    assert ids(deep) == [ref, like, t2, t1] and deep["recursion_depth"] == 3
    # a /messages token works as `from`
    msgs = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=1", token=b)
    assert ids(await hs.ok("GET", f"{base}?from={msgs['start']}", token=b)) == [like, t2, t1]

    assert await hs.err("GET", f"{V1}/rooms/{room}/relations/{quote('$nope')}", token=b) == (
        404,
        "M_NOT_FOUND",
    )
    assert await hs.err("GET", f"{base}?dir=sideways", token=b) == (400, "M_INVALID_PARAM")
    assert await hs.err("GET", f"{base}?from=garbage", token=b) == (400, "M_INVALID_PARAM")
    assert await hs.err("GET", f"{base}?recurse=maybe", token=b) == (400, "M_INVALID_PARAM")
    _, stranger = await hs.user("stranger")
    hv = {"history_visibility": "joined"}
    await hs.ok("PUT", f"{V3}/rooms/{room}/state/m.room.history_visibility/", hv, token=a)
    assert (await hs.err("GET", base, token=stranger))[0] == 404


async def test_bundled_aggregations_on_event(hs: Hs) -> None:  # noqa: F811
    room, a, b, send = await setup(hs)
    root = await send(a, {"msgtype": "m.text", "body": "helo"})
    edits = []
    for text in ("hello", "hello!", "hello!!"):
        edits.append(
            await send(
                a,
                {"body": f"* {text}", "m.new_content": {"body": text}, **rel("m.replace", root)},
            )
        )
    ref = await send(b, {"body": "see", **rel("m.reference", root)})
    reply = await send(b, {"body": "t", **rel("m.thread", root)})
    event = await hs.ok("GET", f"{V3}/rooms/{room}/event/{quote(root)}", token=b)
    bundle = event["unsigned"]["m.relations"]
    stamps = {}
    for e in edits:
        got = await hs.ok("GET", f"{V3}/rooms/{room}/event/{quote(e)}", token=b)
        stamps[e] = (got["origin_server_ts"], e)
    latest = max(edits, key=lambda e: stamps[e])
    assert bundle["m.replace"]["event_id"] == latest
    assert (
        bundle["m.replace"]["content"]["m.new_content"]["body"]
        == ({edits[0]: "hello", edits[1]: "hello!", edits[2]: "hello!!"}[latest])
    )
    assert event["content"]["body"] == "helo"  # the original content is left intact
    assert bundle["m.reference"] == {"chunk": [{"event_id": ref}]}
    thread = bundle["m.thread"]
    assert thread["count"] == 1 and thread["current_user_participated"] is True
    assert thread["latest_event"]["event_id"] == reply
    assert thread["latest_event"]["room_id"] == room
    # redacting the latest edit falls back to the previous one
    await hs.ok("PUT", f"{V3}/rooms/{room}/redact/{quote(latest)}/r1", {}, token=a)
    event = await hs.ok("GET", f"{V3}/rooms/{room}/event/{quote(root)}", token=b)
    assert event["unsigned"]["m.relations"]["m.replace"]["event_id"] in set(edits) - {latest}


async def test_threads_endpoint(hs: Hs) -> None:  # noqa: F811
    room, a, b, send = await setup(hs)
    r1 = await send(a, {"body": "r1"})
    r2 = await send(b, {"body": "r2"})
    await send(a, {"body": "x", **rel("m.thread", r2)})
    await send(a, {"body": "y", **rel("m.thread", r1)})
    base = f"{V1}/rooms/{room}/threads"
    body = await hs.ok("GET", base, token=b)
    assert ids(body) == [r1, r2]
    assert body["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["count"] == 1
    assert ids(await hs.ok("GET", f"{base}?include=participated", token=b)) == [r2]
    first = await hs.ok("GET", f"{base}?limit=1", token=b)
    assert ids(first) == [r1]
    second = await hs.ok("GET", f"{base}?limit=1&from={first['next_batch']}", token=b)
    assert ids(second) == [r2] and "next_batch" not in second
    assert await hs.err("GET", f"{base}?include=none", token=b) == (400, "M_INVALID_PARAM")
    _, stranger = await hs.user("stranger")
    hv = {"history_visibility": "joined"}
    await hs.ok("PUT", f"{V3}/rooms/{room}/state/m.room.history_visibility/", hv, token=a)
    assert await hs.err("GET", base, token=stranger) == (403, "M_FORBIDDEN")
    # starting a thread from a threaded event is refused
    latest = body["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["latest_event"]
    status, err = await hs.request(
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.message/nested",
        {"body": "z", **rel("m.thread", latest["event_id"])},
        token=b,
    )
    assert (status, err["errcode"]) == (400, "M_UNKNOWN")


async def test_duplicate_annotation_over_http(hs: Hs) -> None:  # noqa: F811
    room, a, b, send = await setup(hs)
    root = await send(a, {"body": "vote"})
    await send(b, rel("m.annotation", root, key="👍"), "m.reaction")
    status, err = await hs.request(
        "PUT",
        f"{V3}/rooms/{room}/send/m.reaction/again",
        rel("m.annotation", root, key="👍"),
        token=b,
    )
    assert (status, err["errcode"]) == (400, "M_DUPLICATE_ANNOTATION")
