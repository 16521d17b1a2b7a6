"""Properties of state resolution on random forked rooms (hypothesis drives the seeds).

* the result does not depend on the order of the state sets, of the keys inside each state
  map, or of the events in the lookup;
* resolving one state set, or a set with itself, returns it;
* in v2 and v2.1 every unconflicted entry is in the result;
* every resolved value is an event of the room whose ``(type, state_key)`` is its key;
* auth chains given by the caller give the same result as walking the graph.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import StateResVersion, get_room_version
from ranvier.core.state_res import resolve_state
from ranvier.core.state_res.auth_chain import AuthGraph
from ranvier.core.state_res.v2 import separate
from tests.core.state_res.roomgen import forked_room

VERSIONS = st.sampled_from(["1", "2", "10", "11", "12"])
SEEDS = st.integers(min_value=0, max_value=2**31)
SETTINGS = settings(max_examples=40, deadline=None)


def shuffled_map(m: dict[StateKey, str], rng: random.Random) -> dict[StateKey, str]:
    items = list(m.items())
    rng.shuffle(items)
    return dict(items)


@SETTINGS
@given(version=VERSIONS, seed=SEEDS, shuffle_seed=st.integers(0, 1000))
def test_order_independence(version: str, seed: int, shuffle_seed: int) -> None:
    rv = get_room_version(version)
    rb, states = forked_room(rv, seed)
    expected = resolve_state(rv, states, rb.events.get)
    rng = random.Random(shuffle_seed)
    states2 = [shuffled_map(s, rng) for s in states]
    rng.shuffle(states2)
    events = list(rb.events.items())
    rng.shuffle(events)
    lookup: dict[str, Event] = dict(events)
    assert resolve_state(rv, states2, lookup.get) == expected


@SETTINGS
@given(version=VERSIONS, seed=SEEDS)
def test_single_and_duplicated_state_set(version: str, seed: int) -> None:
    rv = get_room_version(version)
    rb, states = forked_room(rv, seed)
    for s in states:
        assert resolve_state(rv, [s], rb.events.get) == s
        assert resolve_state(rv, [s, dict(s)], rb.events.get) == s


@SETTINGS
@given(version=st.sampled_from(["2", "10", "11", "12"]), seed=SEEDS)
def test_unconflicted_kept_and_values_well_formed(version: str, seed: int) -> None:
    rv = get_room_version(version)
    assert rv.state_res is not StateResVersion.V1
    rb, states = forked_room(rv, seed)
    result = resolve_state(rv, states, rb.events.get)
    unconflicted, _ = separate(states)
    for key, eid in unconflicted.items():
        assert result[key] == eid
    for key, eid in result.items():
        assert rb.events[eid].state_tuple == key


@SETTINGS
@given(version=VERSIONS, seed=SEEDS)
def test_given_auth_chains_match_walk(version: str, seed: int) -> None:
    rv = get_room_version(version)
    rb, states = forked_room(rv, seed)
    walker = AuthGraph(rb.events.get)

    def chain(eid: str) -> frozenset[str]:
        return frozenset(walker.closure([eid]) - {eid})

    assert resolve_state(rv, states, rb.events.get, chain) == resolve_state(
        rv, states, rb.events.get
    )


def test_unknown_conflicted_events_are_left_out() -> None:
    """An event the caller cannot provide cannot win (rooms/v2 resolution only uses events it
    has); the known alternatives are resolved as usual."""
    rv = get_room_version("10")
    for seed in range(30):
        rb, states = forked_room(rv, seed)
        _, conflicted = separate(states)
        if not conflicted:
            continue
        hidden = {min(ids) for ids in conflicted.values()}
        lookup = {k: v for k, v in rb.events.items() if k not in hidden}
        result = resolve_state(rv, states, lookup.get)
        assert not hidden & set(result.values())
