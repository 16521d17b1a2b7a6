"""Differential test: ranvier's state resolution against Synapse's on random forked rooms.

Hundreds of rooms are generated (:mod:`tests.core.state_res.roomgen`: a few users changing
memberships, power levels, join rules, topic and name, forked into 2-3 branches), resolved
here and by Synapse's resolver in a subprocess under Synapse's Python
(``synapse_oracle.py``), and the results compared key by key. Rooms v1 (state res v1), v10
and v11 (v2) and v12 (v2.1; Synapse implements MSC4297) are covered. The event ids each side
computes from the PDUs are compared too (v3+ ids are reference hashes).

The v1-format fixtures of ``fixtures/`` go through the oracle as well, so the expectations
reasoned by hand are checked against an independent implementation.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ranvier.core.events import StateKey
from ranvier.core.room_versions import get_room_version
from ranvier.core.state_res import resolve_state
from tests.conftest import need_service
from tests.core.state_res.fixture_loader import fixture_paths, load_fixture
from tests.core.state_res.roomgen import forked_room

ORACLE = Path(__file__).parent / "synapse_oracle.py"

# (room version, number of rooms, generator parameters)
PLAN: list[tuple[str, int, dict[str, Any]]] = [
    ("1", 100, {}),
    ("10", 60, {}),
    ("11", 60, {"trunk_steps": 12, "branch_steps": (4, 16)}),
    ("12", 100, {}),
    ("12", 60, {"trunk_steps": 12, "branch_steps": (4, 16)}),
]


def run_oracle(python: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resolve ``cases`` with Synapse; see ``synapse_oracle.py`` for the format."""
    proc = subprocess.run(
        [python, str(ORACLE)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    return results


def as_map(triples: list[list[str]]) -> dict[StateKey, str]:
    return {(t, k): e for t, k, e in triples}


def diff(ours: dict[StateKey, str], theirs: dict[StateKey, str]) -> dict[StateKey, Any]:
    keys = set(ours) | set(theirs)
    return {k: (ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)}


def test_random_rooms_agree_with_synapse() -> None:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse oracle")
    cases: list[dict[str, Any]] = []
    ours: list[tuple[str, int, dict[StateKey, str], list[str]]] = []
    nontrivial = 0  # rooms whose resolved state equals none of the state sets
    seed = 0
    for version, count, params in PLAN:
        rv = get_room_version(version)
        for _ in range(count):
            seed += 1
            rb, states = forked_room(rv, seed, **params)
            resolved = resolve_state(rv, states, rb.events.get)
            nontrivial += all(resolved != s for s in states)
            ours.append((version, seed, resolved, rb.order))
            cases.append(rb.case(states))
    results = run_oracle(python, cases)
    assert len(results) == len(cases) == sum(n for _, n, _ in PLAN)
    # the generator must produce real conflicts, not mostly trivial merges
    assert nontrivial > len(cases) // 3, nontrivial
    mismatches = []
    for (version, seed, mine, order), theirs in zip(ours, results, strict=True):
        assert theirs["event_ids"] == order, f"room {version} seed {seed}: event ids differ"
        d = diff(mine, as_map(theirs["state"]))
        if d:
            mismatches.append((version, seed, d))
    assert not mismatches, mismatches[:5]


def test_v1_format_fixtures_agree_with_synapse() -> None:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse oracle")
    fixtures = [load_fixture(p) for p in fixture_paths()]
    fixtures = [f for f in fixtures if f.room_version.event_id_in_event]
    assert len(fixtures) >= 8
    cases = [
        {
            "room_version": f.room_version.identifier,
            "room_id": "!room:a",
            "events": f.pdus(),
            "state_sets": [[[t, k, e] for (t, k), e in s.items()] for s in f.state_sets],
        }
        for f in fixtures
    ]
    for f, theirs in zip(fixtures, run_oracle(python, cases), strict=True):
        assert as_map(theirs["state"]) == f.expected, f.name
