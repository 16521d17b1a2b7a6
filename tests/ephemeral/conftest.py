"""Fixtures for ephemeral tests: the room components (tests.rooms) plus the receipt,
read marker, presence and ignored-user services over the ``database`` fixture (each
test runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

import pytest

from ranvier.db import Database
from ranvier.ephemeral.ignored import IgnoredUsers
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.presence_store import PresenceStore
from ranvier.ephemeral.read_markers import ReadMarkers
from ranvier.ephemeral.receipts import ReceiptService
from ranvier.ephemeral.receipts_store import ReceiptStore
from ranvier.users.account_data import AccountDataStore
from tests.rooms.conftest import SERVER, Rooms, build_rooms


@dataclass
class Recorder:
    """A stream listener remembering every call."""

    calls: list[tuple[int, list[str], list[str]]] = field(default_factory=list)

    def __call__(self, position: int, rooms: Collection[str], users: Collection[str]) -> None:
        self.calls.append((position, sorted(rooms), sorted(users)))


@dataclass
class Clock:
    """A settable millisecond clock."""

    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@dataclass
class Ephemeral:
    """Everything an ephemeral test needs."""

    rooms: Rooms
    account_data: AccountDataStore
    receipts: ReceiptService
    markers: ReadMarkers
    presence: PresenceService
    ignored: IgnoredUsers
    clock: Clock


@pytest.fixture
async def eph(database: Database) -> AsyncIterator[Ephemeral]:
    """The ephemeral services over a fresh database of each kind."""
    rooms = build_rooms(database)
    account_data = AccountDataStore(database)
    receipts = ReceiptService(ReceiptStore(database), rooms.service)
    clock = Clock()
    presence = PresenceService(
        PresenceStore(database),
        rooms.service,
        SERVER,
        idle_ms=5_000,
        sync_timeout_ms=2_000,
        active_ms=1_000,
        clock=clock,
    )
    yield Ephemeral(
        rooms,
        account_data,
        receipts,
        ReadMarkers(account_data, receipts),
        presence,
        IgnoredUsers(account_data),
        clock,
    )
    await presence.stop()
    await rooms.bus.close()
