"""Account, device, profile, account data, filter and registration token stores,
each test run on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ranvier.db.api import Database
from ranvier.http.types import MatrixError
from ranvier.users.account_data import AccountDataStore
from ranvier.users.accounts import AccountStore, UserIdTaken
from ranvier.users.devices import DeviceStore
from ranvier.users.filters import FilterStore, validate_filter
from ranvier.users.profiles import ProfileService, ProfileStore
from ranvier.users.registration_tokens import RegistrationTokenStore


async def test_accounts_create_get_and_taken(database: Database) -> None:
    store = AccountStore(database)
    created = await store.create("@alice:hs", "hash", is_admin=True)
    assert created.is_admin and not created.deactivated
    got = await store.get("@alice:hs")
    assert got is not None and got.password_hash == "hash" and got.is_admin
    with pytest.raises(UserIdTaken):
        await store.create("@alice:hs", None)
    # IDs differing only in case are the same ID for registration purposes.
    with pytest.raises(UserIdTaken):
        await store.create("@ALICE:hs", None)
    assert await store.exists("@Alice:hs")
    assert await store.get("@bob:hs") is None
    await store.mark_deactivated("@alice:hs")
    got = await store.get("@alice:hs")
    assert got is not None and got.deactivated and got.password_hash is None
    assert await store.count() == 1


async def test_devices_roundtrip(database: Database) -> None:
    store = DeviceStore(database)
    assert await store.create("@a:hs", "DEV1", "Phone")
    assert not await store.create("@a:hs", "DEV1", "Other name")
    device = await store.get("@a:hs", "DEV1")
    assert device is not None and device.display_name == "Phone"
    assert await store.set_display_name("@a:hs", "DEV1", "Laptop")
    assert not await store.set_display_name("@a:hs", "NOPE", "x")
    await store.record_seen("@a:hs", "DEV1", 1234, "10.0.0.1", "curl")
    device = await store.get("@a:hs", "DEV1")
    assert device is not None
    assert device.to_client() == {
        "device_id": "DEV1",
        "display_name": "Laptop",
        "last_seen_ip": "10.0.0.1",
        "last_seen_ts": 1234,
    }
    await store.create("@a:hs", "DEV0", None)
    assert [d.device_id for d in await store.all_for("@a:hs")] == ["DEV0", "DEV1"]
    async with database.transaction() as conn:
        await store.delete_in(conn, "@a:hs", ["DEV1"])
    assert [d.device_id for d in await store.all_for("@a:hs")] == ["DEV0"]


async def test_profile_fields_and_limits(database: Database) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def listener(user_id: str, profile: dict[str, Any]) -> None:
        seen.append((user_id, profile))

    service = ProfileService(ProfileStore(database))
    service.add_listener(listener)
    await service.set_field("@a:hs", "displayname", "Alice")
    await service.set_field("@a:hs", "avatar_url", "mxc://hs/abc123")
    await service.set_field("@a:hs", "org.example.job", {"title": "x", "n": [1, 2]})
    assert await service.store.get("@a:hs") == {
        "displayname": "Alice",
        "avatar_url": "mxc://hs/abc123",
        "org.example.job": {"title": "x", "n": [1, 2]},
    }
    assert seen[-1][1]["displayname"] == "Alice"
    # An empty display name clears it.
    await service.set_field("@a:hs", "displayname", "")
    assert (await service.store.get_field("@a:hs", "displayname"))[0] is False

    cases: list[tuple[str, Any, str]] = [
        ("displayname", 5, "M_BAD_JSON"),
        ("avatar_url", "https://x/" + "y" * 1000, "M_INVALID_PARAM"),
        ("avatar_url", None, "M_BAD_JSON"),
        ("avatar_url", "mxc://hs/abc\n", "M_INVALID_PARAM"),
        ("avatar_url", "https://x/a b", "M_INVALID_PARAM"),
        ("Bad.Key", "v", "M_INVALID_PARAM"),
        ("nodots", "v", "M_INVALID_PARAM"),
        ("a." + "b" * 300, "v", "M_KEY_TOO_LARGE"),
        ("org.example.big", "x" * (64 * 1024), "M_PROFILE_TOO_LARGE"),
    ]
    for key, value, errcode in cases:
        with pytest.raises(MatrixError) as info:
            await service.set_field("@a:hs", key, value)
        assert info.value.errcode == errcode, key
    await service.delete_field("@a:hs", "org.example.job")
    assert await service.store.get("@a:hs") == {"avatar_url": "mxc://hs/abc123"}
    await service.set_field("@a:hs", "avatar_url", "https://example.org/a.png")  # any scheme
    assert await service.store.get("@a:hs") == {"avatar_url": "https://example.org/a.png"}
    await service.erase("@a:hs")
    assert await service.store.get("@a:hs") == {}


async def test_account_data_streams_and_tags(database: Database) -> None:
    store = AccountDataStore(database)
    woken: list[tuple[str, int]] = []

    async def listener(user_id: str, position: int) -> None:
        woken.append((user_id, position))

    store.add_listener(listener)
    start = await store.current_position()
    p1 = await store.put("@a:hs", None, "org.example.cfg", {"x": 1})
    p2 = await store.put("@a:hs", "!r:hs", "org.example.cfg", {"y": 2})
    p3 = await store.put("@a:hs", None, "org.example.cfg", {"x": 3})
    assert start < p1 < p2 < p3 == await store.current_position()
    assert woken == [("@a:hs", p1), ("@a:hs", p2), ("@a:hs", p3)]
    assert await store.get("@a:hs", None, "org.example.cfg") == {"x": 3}
    assert await store.get("@a:hs", "!r:hs", "org.example.cfg") == {"y": 2}
    assert await store.get("@b:hs", None, "org.example.cfg") is None
    changes = await store.changes_since("@a:hs", p1)
    assert [(c.room_id, c.content, c.stream_id) for c in changes] == [
        ("!r:hs", {"y": 2}, p2),
        (None, {"x": 3}, p3),
    ]
    await store.set_tag("@a:hs", "!r:hs", "m.favourite", {"order": 0.5})
    await store.set_tag("@a:hs", "!r:hs", "u.work", {})
    assert await store.get_tags("@a:hs", "!r:hs") == {"m.favourite": {"order": 0.5}, "u.work": {}}
    await store.remove_tag("@a:hs", "!r:hs", "m.favourite")
    assert await store.get("@a:hs", "!r:hs", "m.tag") == {"tags": {"u.work": {}}}
    with pytest.raises(MatrixError):
        await store.set_tag("@a:hs", "!r:hs", "t", {"order": "high"})
    with pytest.raises(MatrixError):
        await store.set_tag("@a:hs", "!r:hs", "x" * 256, {})


async def test_filters_dedupe_and_ids(database: Database) -> None:
    store = FilterStore(database)
    f0 = await store.create("@a:hs", {"room": {"timeline": {"limit": 10}}})
    f1 = await store.create("@a:hs", {"presence": {"types": []}})
    again = await store.create("@a:hs", {"room": {"timeline": {"limit": 10}}})
    other = await store.create("@b:hs", {"presence": {"types": []}})
    assert (f0, f1, again, other) == ("0", "1", "0", "0")
    assert await store.get("@a:hs", "1") == {"presence": {"types": []}}
    assert await store.get("@a:hs", "7") is None
    assert await store.get("@c:hs", "0") is None


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"event_format": "xml"},
        {"event_fields": "content.body"},
        {"presence": {"limit": -1}},
        {"presence": {"limit": True}},
        {"presence": {"senders": [1]}},
        {"room": []},
        {"room": {"include_leave": "yes"}},
        {"room": {"timeline": {"lazy_load_members": 1}}},
        {"room": {"state": {"not_rooms": "!a:b"}}},
        {"room": {"rooms": [None]}},
        {"room": {"rooms": ["not_a_room_id"]}},
        {"room": {"timeline": {"rooms": ["not_a_room_id"]}}},
        {"room": {"timeline": {"senders": ["not_a_sender_id"]}}},
        {"presence": {"not_senders": ["@"]}},
    ],
)
def test_validate_filter_rejects(bad: Any) -> None:
    with pytest.raises(MatrixError) as info:
        validate_filter(bad)
    assert info.value.errcode == "M_BAD_JSON"


def test_validate_filter_accepts_spec_example() -> None:
    validate_filter(
        {
            "room": {
                "state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
                "timeline": {"limit": 10, "types": ["m.room.message"], "contains_url": True},
                "ephemeral": {"not_types": ["m.receipt"]},
                "include_leave": False,
            },
            "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
            "event_format": "client",
            "event_fields": ["type", "content", "sender"],
            "org.example.extra": 1,
        }
    )


async def test_registration_token_limits(database: Database) -> None:
    store = RegistrationTokenStore(database)
    once = await store.create("once-only", uses_allowed=1)
    assert await store.is_valid(once)
    assert await store.use(once)
    assert not await store.is_valid(once)
    assert not await store.use(once)
    past = await store.create("expired", expiry_ts=int(time.time() * 1000) - 1)
    assert not await store.is_valid(past)
    unlimited = await store.create()
    for _ in range(3):
        assert await store.use(unlimited)
    assert not await store.is_valid("unknown")
    assert not await store.is_valid("bad token!")
