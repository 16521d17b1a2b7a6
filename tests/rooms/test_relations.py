"""Relations on both databases: the index, /relations paging and filters, recursion,
threads, bundled aggregations, de-aggregation on redaction, and the send checks."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.http.types import MatrixError
from ranvier.rooms.relation_store import parse_relation
from ranvier.rooms.relations import RelationService, parse_position
from tests.rooms.conftest import ALICE, BOB, CAROL, Rooms


def rel(rel_type: str, parent: str, **extra: Any) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


class Room:
    """A public v11 room with Alice, Bob and Carol joined."""

    def __init__(self, rooms: Rooms, room_id: str) -> None:
        self.rooms = rooms
        self.room_id = room_id
        self.relations = RelationService(rooms.service, rooms.service.renderer)

    async def send(
        self, sender: str, content: dict[str, Any], etype: str = "m.room.message"
    ) -> str:
        return await self.rooms.service.send_event(self.room_id, sender, etype, content)

    async def redact(self, sender: str, target: str) -> str:
        return await self.rooms.service.send_event(
            self.room_id, sender, "m.room.redaction", {"redacts": target}
        )

    async def page(self, parent: str, user: str = ALICE, **kw: Any) -> dict[str, Any]:
        return await self.relations.relations(self.room_id, parent, user, **kw)

    async def ids(self, parent: str, **kw: Any) -> list[str]:
        return [e["event_id"] for e in (await self.page(parent, **kw))["chunk"]]

    async def event(self, event_id: str, user: str = ALICE) -> dict[str, Any]:
        return await self.rooms.service.get_event(self.room_id, event_id, user)


@pytest.fixture
async def room(rooms: Rooms) -> Room:
    room_id = await rooms.service.create_room(ALICE, room_version="11", preset="public_chat")
    await rooms.membership.join(room_id, BOB)
    await rooms.membership.join(room_id, CAROL)
    return Room(rooms, room_id)


def test_parse_relation() -> None:
    assert parse_relation(rel("m.thread", "$a")) is not None
    assert parse_relation({"m.relates_to": {"m.in_reply_to": {"event_id": "$a"}}}) is None
    assert parse_relation({"m.relates_to": {"rel_type": "m.thread"}}) is None
    assert parse_relation({"m.relates_to": {"rel_type": 1, "event_id": "$a"}}) is None
    assert parse_relation({"m.relates_to": {"rel_type": "x", "event_id": "a"}}) is None
    assert parse_relation({"m.relates_to": "nope"}) is None
    annotation = parse_relation(rel("m.annotation", "$a", key="👍"))
    assert annotation is not None and annotation.key == "👍"
    assert parse_position("t12", "from") == 12 and parse_position("s7_1_2", "from") == 7
    for bad in ("12", "tx", "s", "t-1", "t" + "9" * 30):
        with pytest.raises(MatrixError):
            parse_position(bad, "from")


async def test_paging_both_directions_with_filters(room: Room) -> None:
    root = await room.send(ALICE, {"body": "root"})
    children = []
    for i in range(5):
        etype = "m.room.message" if i % 2 == 0 else "org.example.other"
        children.append(await room.send(BOB, {"body": str(i), **rel("org.example.r", root)}, etype))
    refs = [await room.send(CAROL, {"body": "ref", **rel("m.reference", root)})]
    await room.send(BOB, {"body": "unrelated"})

    newest_first = [*reversed(children + refs)]
    assert await room.ids(root) == newest_first
    # dir=b pages of 2, following next_batch to the end
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await room.page(root, limit=2, from_token=token)
        seen += [e["event_id"] for e in page["chunk"]]
        pages += 1
        token = page.get("next_batch")
        if token is None:
            break
        assert page["chunk"]
    assert seen == newest_first and pages == 3
    # dir=f: oldest first, pages of 4
    first = await room.page(root, limit=4, direction="f")
    assert [e["event_id"] for e in first["chunk"]] == (children + refs)[:4]
    rest = await room.page(root, direction="f", from_token=first["next_batch"])
    assert [e["event_id"] for e in rest["chunk"]] == (children + refs)[4:]
    assert "next_batch" not in rest and rest["prev_batch"] == first["next_batch"]
    # from/to window: from page 1 to page 2's start
    one = await room.page(root, limit=2)
    window = await room.page(root, from_token=one["next_batch"], to_token="t0", limit=50)
    assert [e["event_id"] for e in window["chunk"]] == newest_first[2:]
    # filters by rel type and event type
    assert await room.ids(root, rel_type="m.reference") == refs
    assert await room.ids(root, rel_type="org.example.r", event_type="org.example.other") == [
        children[3],
        children[1],
    ]
    assert await room.ids(root, rel_type="m.nothing") == []
    assert "recursion_depth" not in await room.page(root)


async def test_recursion_follows_matching_children_only(room: Room) -> None:
    a = await room.send(ALICE, {"body": "a"})
    b = await room.send(BOB, {"body": "b", **rel("m.reference", a)})
    c = await room.send(BOB, {"body": "c", **rel("m.reference", b)})
    d = await room.send(BOB, {"body": "d", **rel("org.example.x", b)})
    e = await room.send(BOB, {"body": "e", **rel("m.reference", d)})
    f = await room.send(BOB, {"body": "f", **rel("m.reference", e)})
    g = await room.send(BOB, {"body": "g", **rel("m.reference", f)})
    assert await room.ids(a) == [b]
    direct = await room.page(a, recurse=False)
    assert direct["recursion_depth"] == 1 and len(direct["chunk"]) == 1
    deep = await room.page(a, recurse=True)
    assert deep["recursion_depth"] == 3
    # depth 1: b; depth 2: c, d; depth 3: e (f is at depth 4, g at 5)
    assert [x["event_id"] for x in deep["chunk"]] == [e, d, c, b]
    # e matches m.reference but is only reachable through d, which does not
    assert await room.ids(a, recurse=True, rel_type="m.reference") == [c, b]
    assert g not in await room.ids(b, recurse=True) and f in await room.ids(b, recurse=True)


async def test_relations_need_a_visible_parent(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, room_version="11", preset="public_chat")
    await rooms.service.set_state(
        room_id, ALICE, "m.room.history_visibility", "", {"history_visibility": "joined"}
    )
    room = Room(rooms, room_id)
    early = await room.send(ALICE, {"body": "before Bob"})
    await rooms.membership.join(room_id, BOB)
    with pytest.raises(MatrixError) as exc:
        await room.page(early, BOB)
    assert (exc.value.status, exc.value.errcode) == (404, "M_NOT_FOUND")
    with pytest.raises(MatrixError) as exc:
        await room.page("$unknown", BOB)
    assert exc.value.status == 404
    assert await room.ids(early) == []
    with pytest.raises(MatrixError) as exc:
        await room.page(early, direction="x")
    assert exc.value.errcode == "M_INVALID_PARAM"


async def test_bundled_edit_reference_and_thread(room: Room) -> None:
    root = await room.send(ALICE, {"msgtype": "m.text", "body": "hello"})
    new = {"msgtype": "m.text", "body": "hello!"}
    edit1 = await room.send(
        ALICE, {"body": "* hello!", "m.new_content": new, **rel("m.replace", root)}
    )
    edit2 = await room.send(
        ALICE, {"body": "* hello!!", "m.new_content": new, **rel("m.replace", root)}
    )
    # invalid edits: another sender; no m.new_content; another event type
    await room.send(BOB, {"body": "* hijack", "m.new_content": new, **rel("m.replace", root)})
    await room.send(ALICE, {"body": "* bad", **rel("m.replace", root)})
    await room.send(ALICE, {"m.new_content": new, **rel("m.replace", root)}, "org.example.t")
    ref = await room.send(CAROL, {"body": "see", **rel("m.reference", root)})
    await room.send(CAROL, rel("m.annotation", root, key="👍"), "m.reaction")
    t1 = await room.send(BOB, {"body": "in thread", **rel("m.thread", root)})
    t2 = await room.send(CAROL, {"body": "latest", **rel("m.thread", root)})
    t2_edit = await room.send(
        CAROL, {"body": "* latest!", "m.new_content": {"body": "latest!"}, **rel("m.replace", t2)}
    )

    served = await room.event(root, BOB)
    relations = served["unsigned"]["m.relations"]
    assert set(relations) == {"m.replace", "m.reference", "m.thread"}  # no m.annotation
    assert relations["m.replace"]["event_id"] in (edit1, edit2)
    stored = {e: await room.event(e) for e in (edit1, edit2)}
    latest = max(stored, key=lambda e: (stored[e]["origin_server_ts"], e))
    assert relations["m.replace"]["event_id"] == latest
    assert relations["m.replace"]["content"]["m.new_content"] == new
    assert relations["m.reference"] == {"chunk": [{"event_id": ref}]}
    thread = relations["m.thread"]
    assert thread["count"] == 2 and thread["current_user_participated"] is True
    assert thread["latest_event"]["event_id"] == t2
    assert thread["latest_event"]["unsigned"]["m.relations"]["m.replace"]["event_id"] == t2_edit
    # Alice sent the root: participated; a user who did neither: not
    assert (await room.event(root, ALICE))["unsigned"]["m.relations"]["m.thread"][
        "current_user_participated"
    ] is True
    await room.rooms.membership.join(room.room_id, "@dave:example.org")
    dave = await room.event(root, "@dave:example.org")
    assert dave["unsigned"]["m.relations"]["m.thread"]["current_user_participated"] is False
    # the relations endpoint bundles too; ignored users are left out of aggregations
    chunk = (await room.page(root, rel_type="m.thread"))["chunk"]
    assert [e["event_id"] for e in chunk] == [t2, t1]
    assert chunk[0]["unsigned"]["m.relations"]["m.replace"]["event_id"] == t2_edit
    renderer = room.rooms.service.renderer
    stored_root = await room.rooms.storage.events.get_by_id(root)
    assert stored_root is not None
    quiet = (await renderer.render([stored_root], BOB, ignored={CAROL}))[0]
    qrel = quiet["unsigned"]["m.relations"]
    assert "m.reference" not in qrel and qrel["m.thread"]["count"] == 1
    assert qrel["m.thread"]["latest_event"]["event_id"] == t1
    assert (
        "m.relations"
        not in (await renderer.render([stored_root], BOB, bundle=False))[0]["unsigned"]
    )


async def test_redaction_breaks_relations(room: Room) -> None:
    root = await room.send(ALICE, {"body": "hello"})
    new = {"body": "hello!"}
    edit = await room.send(ALICE, {"body": "*", "m.new_content": new, **rel("m.replace", root)})
    t1 = await room.send(BOB, {"body": "1", **rel("m.thread", root)})
    t2 = await room.send(BOB, {"body": "2", **rel("m.thread", root)})
    await room.redact(BOB, t2)
    thread = (await room.event(root))["unsigned"]["m.relations"]["m.thread"]
    assert thread["count"] == 1 and thread["latest_event"]["event_id"] == t1
    assert await room.ids(root, rel_type="m.thread") == [t1]
    await room.redact(ALICE, edit)
    assert "m.replace" not in (await room.event(root))["unsigned"]["m.relations"]
    await room.redact(BOB, t1)
    assert "m.relations" not in (await room.event(root))["unsigned"]
    assert (await room.relations.threads(room.room_id, ALICE))["chunk"] == []
    # a redacted original keeps its thread but loses its edits
    root2 = await room.send(ALICE, {"body": "x"})
    await room.send(ALICE, {"body": "*", "m.new_content": new, **rel("m.replace", root2)})
    t3 = await room.send(BOB, {"body": "3", **rel("m.thread", root2)})
    await room.redact(ALICE, root2)
    served = await room.event(root2)
    assert served["content"] == {} and "redacted_because" in served["unsigned"]
    assert set(served["unsigned"]["m.relations"]) == {"m.thread"}
    assert served["unsigned"]["m.relations"]["m.thread"]["latest_event"]["event_id"] == t3


async def test_threads_list(room: Room) -> None:
    roots = [await room.send(ALICE, {"body": f"root {i}"}) for i in range(3)]
    await room.send(BOB, {"body": "a", **rel("m.thread", roots[0])})
    await room.send(CAROL, {"body": "b", **rel("m.thread", roots[1])})
    await room.send(CAROL, {"body": "c", **rel("m.thread", roots[2])})
    await room.send(BOB, {"body": "d", **rel("m.thread", roots[0])})  # roots[0] latest now
    threads = room.relations.threads
    all_ = await threads(room.room_id, CAROL)
    assert [e["event_id"] for e in all_["chunk"]] == [roots[0], roots[2], roots[1]]
    assert all_["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["count"] == 2
    assert "next_batch" not in all_
    mine = await threads(room.room_id, CAROL, include="participated")
    assert [e["event_id"] for e in mine["chunk"]] == [roots[2], roots[1]]
    assert len((await threads(room.room_id, ALICE, include="participated"))["chunk"]) == 3
    first = await threads(room.room_id, CAROL, limit=2)
    assert [e["event_id"] for e in first["chunk"]] == [roots[0], roots[2]]
    second = await threads(room.room_id, CAROL, limit=2, from_token=first["next_batch"])
    assert [e["event_id"] for e in second["chunk"]] == [roots[1]] and "next_batch" not in second
    for bad in ({"include": "some"}, {"from_token": "zzz"}, {"limit": 0}):
        with pytest.raises(MatrixError) as exc:
            await threads(room.room_id, CAROL, **bad)
        assert exc.value.status == 400
    with pytest.raises(MatrixError) as exc:
        await threads(room.room_id, "@stranger:example.org")
    assert exc.value.status == 403


async def test_send_checks_for_threads_and_annotations(room: Room) -> None:
    root = await room.send(ALICE, {"body": "root"})
    reply = await room.send(BOB, {"body": "r", **rel("m.thread", root)})
    with pytest.raises(MatrixError) as exc:
        await room.send(BOB, {"body": "nested", **rel("m.thread", reply)})
    assert (exc.value.status, exc.value.errcode) == (400, "M_UNKNOWN")
    # a thread may start from a plain rich reply (it has no rel_type)
    rich = await room.send(
        BOB, {"body": "q", "m.relates_to": {"m.in_reply_to": {"event_id": root}}}
    )
    await room.send(CAROL, {"body": "t", **rel("m.thread", rich)})

    like = await room.send(BOB, rel("m.annotation", root, key="👍"), "m.reaction")
    with pytest.raises(MatrixError) as exc:
        await room.send(BOB, rel("m.annotation", root, key="👍"), "m.reaction")
    assert (exc.value.status, exc.value.errcode) == (400, "M_DUPLICATE_ANNOTATION")
    # other key, other sender, other type are fine; after a redaction the key is free again
    await room.send(BOB, rel("m.annotation", root, key="👎"), "m.reaction")
    await room.send(CAROL, rel("m.annotation", root, key="👍"), "m.reaction")
    await room.send(BOB, rel("m.annotation", root, key="👍"), "org.example.reaction")
    await room.redact(BOB, like)
    await room.send(BOB, rel("m.annotation", root, key="👍"), "m.reaction")
