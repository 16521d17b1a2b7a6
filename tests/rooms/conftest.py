"""Fixtures for room tests: the room stores, pipeline and service over the ``database``
fixture (each test runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ranvier.bus import LocalBus
from ranvier.core.signing import generate_signing_key
from ranvier.db import Database
from ranvier.rooms.aliases import AliasStore
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.pipeline import RoomInput
from ranvier.rooms.service import RoomService
from ranvier.rooms.storage import RoomStorage

SERVER = "example.org"
ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
CAROL = f"@carol:{SERVER}"


@dataclass
class Rooms:
    """Everything a room test needs."""

    db: Database
    storage: RoomStorage
    bus: LocalBus
    pipeline: RoomInput
    service: RoomService
    membership: MembershipService

    def fresh_storage(self) -> RoomStorage:
        """A second storage over the same database with empty caches."""
        return RoomStorage(self.db)


def build_rooms(db: Database) -> Rooms:
    """Wire the room components over ``db``."""
    storage = RoomStorage(db)
    bus = LocalBus()
    pipeline = RoomInput(storage, bus, SERVER, generate_signing_key("t1"))
    service = RoomService(storage, pipeline, AliasStore(db), SERVER)
    return Rooms(db, storage, bus, pipeline, service, MembershipService(service))


@pytest.fixture
async def rooms(database: Database) -> AsyncIterator[Rooms]:
    """Room components over a fresh database of each kind."""
    r = build_rooms(database)
    yield r
    await r.bus.close()


async def count(db: Database, table: str) -> int:
    """Rows in ``table``."""
    row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])
