"""The table format of the auth rule tests.

A case is a function ``(RoomVersion) -> (Room, Event)`` that builds the state
and the candidate event, registered with :func:`case` together with the spec
rule it exercises, the room versions it applies to, and the expected outcome:
``None`` (allowed) or the ``AuthError.rule`` the rejection must name. Each
table module collects its cases in a :class:`Table` and parametrises one test
over (case, room version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest

from ranvier.core.auth import AuthError, check_auth_rules
from ranvier.core.events import Event
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.core.auth.roombuilder import Room

ALL: tuple[RoomVersion, ...] = tuple(KNOWN_ROOM_VERSIONS.values())


def versions(first: int, last: int = 12) -> tuple[RoomVersion, ...]:
    """Room versions ``first``..``last`` inclusive."""
    return tuple(KNOWN_ROOM_VERSIONS[str(n)] for n in range(first, last + 1))


Build = Callable[[RoomVersion], tuple[Room, Event]]


@dataclass(frozen=True)
class Case:
    name: str
    spec: str
    """The rule exercised, in the spec's words (rule numbers of rooms/v3-v11)."""
    rvs: tuple[RoomVersion, ...]
    build: Build
    expect: str | None
    """None: allowed. Otherwise the ``AuthError.rule`` of the rejection."""


class Table:
    """A list of cases plus the decorator that registers them."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def case(
        self, spec: str, expect: str | None = None, rvs: Iterable[RoomVersion] = ALL
    ) -> Callable[[Build], Build]:
        def register(fn: Build) -> Build:
            self.cases.append(Case(fn.__name__, spec, tuple(rvs), fn, expect))
            return fn

        return register

    def params(self) -> list[object]:
        """``pytest.param(case, rv)`` for every case and each of its room versions."""
        return [
            pytest.param(c, rv, id=f"{c.name}-v{rv.identifier}") for c in self.cases for rv in c.rvs
        ]


def run_case(c: Case, rv: RoomVersion) -> None:
    """Build the case in ``rv`` and assert the rules decide as the table says."""
    room, event = c.build(rv)
    if c.expect is None:
        try:
            check_auth_rules(event, room.state)
        except AuthError as e:  # pragma: no cover - a failure message
            pytest.fail(f"{c.spec}: expected allow, rejected by {e.rule}: {e.reason}")
    else:
        with pytest.raises(AuthError) as info:
            check_auth_rules(event, room.state)
        assert info.value.rule == c.expect, f"{c.spec}: rejected by {info.value.rule!r}"
