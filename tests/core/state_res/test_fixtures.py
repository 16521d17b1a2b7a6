"""Hand-written state resolution cases (``fixtures/*.json``), each with the spec reasoning
for its expected state in its ``why``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ranvier.core.state_res import resolve_state
from tests.core.state_res.fixture_loader import fixture_paths, load_fixture

PATHS = fixture_paths()


def test_fixture_set_covers_all_algorithms() -> None:
    versions = {load_fixture(p).room_version.state_res.name for p in PATHS}
    assert versions == {"V1", "V2", "V2_1"}
    assert len(PATHS) >= 12


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_fixture(path: Path) -> None:
    fx = load_fixture(path)
    assert fx.why
    got = resolve_state(fx.room_version, fx.state_sets, fx.events.get)
    assert got == fx.expected, fx.why


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_fixture_with_auth_chain_callback(path: Path) -> None:
    """The same result when auth chains come from the caller instead of a walk."""
    fx = load_fixture(path)
    from ranvier.core.state_res.auth_chain import AuthGraph

    walker = AuthGraph(fx.events.get)

    def chain(eid: str) -> set[str]:
        return walker.closure([eid]) - {eid}

    got = resolve_state(fx.room_version, fx.state_sets, fx.events.get, chain)
    assert got == fx.expected, fx.why
