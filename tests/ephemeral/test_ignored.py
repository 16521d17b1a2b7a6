"""The ignored users list: parsing, the filter rule, and cache invalidation through the
account data store's listener (both databases)."""

from __future__ import annotations

from ranvier.core.events import Event
from ranvier.core.room_versions import get_room_version
from ranvier.ephemeral.ignored import IgnoredUsers, hidden, parse_ignored
from tests.ephemeral.conftest import Ephemeral
from tests.rooms.conftest import ALICE, BOB, CAROL

V10 = get_room_version("10")


def event(sender: str, state_key: str | None = None) -> Event:
    pdu: dict[str, object] = {
        "type": "m.room.message" if state_key is None else "m.room.topic",
        "room_id": "!r:example.org",
        "sender": sender,
        "content": {},
        "depth": 3,
        "origin_server_ts": 1,
        "prev_events": [],
        "auth_events": [],
        "hashes": {"sha256": "x"},
        "signatures": {},
    }
    if state_key is not None:
        pdu["state_key"] = state_key
    return Event(pdu, V10, "$e")


def test_parse_ignored() -> None:
    assert parse_ignored({"ignored_users": {BOB: {}, CAROL: {}}}) == {BOB, CAROL}
    assert parse_ignored({"ignored_users": {"nope": {}, BOB: {}}}) == {BOB}
    bads: list[object] = [None, [], {}, {"ignored_users": [BOB]}]
    for bad in bads:
        assert parse_ignored(bad) == frozenset()


def test_hidden_spares_state_events() -> None:
    ignored = frozenset({BOB})
    assert hidden(ignored, event(BOB))
    assert not hidden(ignored, event(BOB, ""))  # state events are still sent
    assert not hidden(ignored, event(CAROL))
    assert not hidden(frozenset(), event(BOB))


async def test_list_changes_apply_at_once(eph: Ephemeral) -> None:
    ignored = eph.ignored
    assert not await ignored.is_ignored(ALICE, BOB)
    await eph.account_data.put(ALICE, None, "m.ignored_user_list", {"ignored_users": {BOB: {}}})
    assert await ignored.is_ignored(ALICE, BOB)
    assert not await ignored.is_ignored(BOB, ALICE)
    assert await ignored.ignored_by(ALICE) == {BOB}
    # Served from the cache: a second instance without the listener would not notice,
    # but this one is told by the store.
    await eph.account_data.put(ALICE, None, "m.ignored_user_list", {"ignored_users": {}})
    assert not await ignored.is_ignored(ALICE, BOB)


async def test_a_write_racing_a_read_is_not_cached_stale(eph: Ephemeral) -> None:
    ignored = IgnoredUsers(eph.account_data)
    store = eph.account_data
    real_get = store.get

    async def racing_get(user_id: str, room_id: str | None, data_type: str) -> object:
        value = await real_get(user_id, room_id, data_type)
        # The list changes after the read but before the reader caches.
        store.get = real_get  # type: ignore[method-assign]
        await store.put(ALICE, None, "m.ignored_user_list", {"ignored_users": {CAROL: {}}})
        return value

    store.get = racing_get  # type: ignore[assignment,method-assign]
    assert await ignored.ignored_by(ALICE) == frozenset()  # the old value, once
    assert await ignored.ignored_by(ALICE) == {CAROL}  # not cached stale
