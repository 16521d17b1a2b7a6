"""Push stores on SQLite and PostgreSQL: rules documents with their account data,
pushers, notifications and counts."""

from __future__ import annotations

from ranvier.core.push_rules import PushRuleError
from ranvier.db import Database
from ranvier.push.counts import NotificationStore, Notified, Recorded
from ranvier.push.pushers import PusherStore, parse_pusher
from ranvier.push.rules import PUSH_RULES_TYPE, PushRules
from ranvier.users.account_data import AccountDataStore

ME = "@alice:example.org"
URL = "https://push.example.org/_matrix/push/v1/notify"


def _pusher_body(pushkey: str, **extra: object) -> dict[str, object]:
    return {
        "kind": "http",
        "app_id": "app",
        "app_display_name": "App",
        "device_display_name": "Phone",
        "pushkey": pushkey,
        "lang": "en",
        "data": {"url": URL},
        **extra,
    }


async def test_rules_are_saved_and_mirrored_to_account_data(database: Database) -> None:
    account_data = AccountDataStore(database)
    seen: list[int] = []

    async def listener(user_id: str, position: int) -> None:
        seen.append(position)

    account_data.add_listener(listener)
    rules = PushRules(database, account_data)
    before = await rules.compiled(ME)
    await rules.modify(ME, lambda r: r.put("room", "!r:x", {"actions": []}, None, None))
    await rules.modify(ME, lambda r: r.set_enabled("override", ".m.rule.master", True))
    loaded = await rules.load(ME)
    assert [r["rule_id"] for r in loaded.user["room"]] == ["!r:x"]
    assert loaded.defaults == {".m.rule.master": {"enabled": True}}
    mirrored = await account_data.get(ME, None, PUSH_RULES_TYPE)
    assert mirrored == await rules.ruleset(ME)
    assert len(seen) == 2
    # The compiled cache was dropped: the master rule now matches everything.
    after = await rules.compiled(ME)
    assert after is not before and after.rules[0].rule_id == ".m.rule.master"
    # A failing change leaves everything as it was.
    try:
        await rules.modify(ME, lambda r: r.delete("room", "!nope:x"))
    except PushRuleError as exc:
        assert exc.status == 404
    assert (await rules.load(ME)).to_json() == loaded.to_json()
    assert await rules.copy_room_rules(ME, "!r:x", "!new:x")
    assert [r["rule_id"] for r in (await rules.load(ME)).user["room"]] == ["!new:x", "!r:x"]
    assert not await rules.copy_room_rules(ME, "!other:x", "!new2:x")


async def test_pushers(database: Database) -> None:
    store = PusherStore(database)
    await store.apply(parse_pusher(ME, "DEV1", _pusher_body("k1")), ME)
    await store.apply(parse_pusher(ME, "DEV2", _pusher_body("k2")), ME)
    # Another user taking k1 without append takes it over.
    bob = "@bob:example.org"
    await store.apply(parse_pusher(bob, "B", _pusher_body("k1")), bob)
    assert [p.pushkey for p in await store.for_user(ME)] == ["k2"]
    await store.apply(parse_pusher(ME, "DEV1", _pusher_body("k1", append=True)), ME)
    assert {p.pushkey for p in await store.for_user(bob)} == {"k1"}
    assert {p.pushkey for p in await store.for_user(ME)} == {"k1", "k2"}
    fresh = PusherStore(database)
    got = {p.pushkey: p for p in await fresh.for_user(ME)}
    assert got["k1"].device_id == "DEV1" and got["k1"].data == {"url": URL}
    await fresh.on_device_change(ME, ["DEV1"], "deleted")
    assert [p.pushkey for p in await fresh.for_user(ME)] == ["k2"]
    await fresh.delete(ME, "app", "k2")
    assert not await fresh.has_pushers(ME)
    assert await fresh.has_pushers(bob)


async def test_notifications_and_counts(database: Database) -> None:
    store = NotificationStore(database)
    room = "!r:x"
    n = [Notified(ME, ["notify"], False)]
    h = [Notified(ME, ["notify", {"set_tweak": "highlight"}], True)]
    await store.record(room, "$1", 10, 1000, n)
    await store.record(room, "$2", 11, 1001, h)
    await store.record(room, "$3", 12, 1002, n)
    await store.record("!other:x", "$4", 13, 1003, n)
    assert await store.counts(ME) == {room: (3, 1), "!other:x": (1, 0)}
    assert await store.unread_total(ME) == 4
    assert await store.mark_read(ME, room, 11)
    assert await store.counts(ME) == {room: (1, 0), "!other:x": (1, 0)}
    assert not await store.mark_read(ME, room, 10)  # receipts never move back
    # An event processed after the user read past it is not counted.
    await store.record(room, "$0", 9, 999, h)
    assert (await store.counts(ME))[room] == (1, 0)
    rows = await store.list(ME, None, 10, only_highlight=False)
    assert [r.event_id for r in rows] == ["$4", "$3", "$2", "$1", "$0"]
    assert [r.read for r in rows] == [False, False, True, True, True]
    assert [r.event_id for r in await store.list(ME, 12, 2, only_highlight=False)] == ["$2", "$1"]
    assert [r.event_id for r in await store.list(ME, None, 10, only_highlight=True)] == [
        "$2",
        "$0",
    ]
    # The local sender of an event has read the room up to it.
    await store.record(room, "$5", 14, 1004, [], reader=ME)
    assert (await store.counts(ME))[room] == (0, 0)
    await store.delete_user(ME)
    assert await store.counts(ME) == {}


async def test_pending_changes_count_before_and_after_the_flush(database: Database) -> None:
    store = NotificationStore(database, flush_delay_s=3600)
    bob = "@bob:example.org"
    room, other = "!r:x", "!o:x"
    n = Notified(ME, ["notify"], False)
    h = Notified(ME, ["notify", {"set_tweak": "highlight"}], True)
    b = Notified(bob, ["notify"], False)
    await store.record_many(
        [
            Recorded(room, "$1", 1, 0, [n, b]),
            Recorded(room, "$2", 2, 0, [h]),
            Recorded(other, "$3", 3, 0, [n]),
            Recorded(room, "$4", 4, 0, [n], reader=bob),
            Recorded(other, "$5", 5, 0, [b], reader=ME),
        ]
    )
    expected_me = {room: (3, 1), other: (0, 0)}
    expected_bob = {room: (0, 0), other: (1, 0)}
    assert await store.counts(ME) == expected_me  # pending only
    assert await store.counts(bob) == expected_bob
    rows = await database.fetchall("SELECT COUNT(*) FROM push_notifications")
    assert int(rows[0][0]) == 0
    await store.flush()
    assert await store.counts(ME) == expected_me  # written
    assert await store.counts(bob) == expected_bob
    rows = await database.fetchall("SELECT COUNT(*) FROM push_notifications")
    assert int(rows[0][0]) == 6
    # Half written, half pending.
    await store.record(room, "$6", 6, 0, [h])
    assert await store.counts(ME) == {room: (4, 2), other: (0, 0)}
    assert await store.unread_total(ME) == 4
    assert await store.mark_read(ME, room, 4)
    assert await store.counts(ME) == {room: (1, 1), other: (0, 0)}
    await store.close()


async def test_counts_per_thread(database: Database) -> None:
    store = NotificationStore(database, flush_delay_s=3600)
    room, root = "!r:x", "$root"
    n = [Notified(ME, ["notify"], False)]
    await store.record(room, "$1", 1, 0, n)
    await store.record(room, "$2", 2, 0, n, thread_id=root)
    await store.record(room, "$3", 3, 0, n, thread_id=root)
    await store.record(room, "$4", 4, 0, n)
    assert await store.thread_counts(ME) == {room: {"main": (2, 0), root: (2, 0)}}
    assert await store.mark_read(ME, room, 2, root)
    assert await store.thread_counts(ME) == {room: {"main": (2, 0), root: (1, 0)}}
    assert not await store.mark_read(ME, room, 2, root)
    # The sender's own event in the thread reads the thread only.
    await store.record(room, "$5", 5, 0, [], reader=ME, thread_id=root)
    assert await store.thread_counts(ME) == {room: {"main": (2, 0), root: (0, 0)}}
    assert await store.counts(ME) == {room: (2, 0)}
    assert await store.mark_read(ME, room, 3)  # unthreaded: every thread up to 3
    assert await store.thread_counts(ME) == {room: {"main": (1, 0), root: (0, 0)}}
    await store.close()
