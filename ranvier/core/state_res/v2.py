"""State resolution v2 (rooms v2-v11) and v2.1 (room v12, MSC4297).

Spec: rooms/v2 "State resolution" (content/rooms/fragments/v2-state-res.md) and rooms/v12
"State resolution".

Theory of operation
-------------------
1. *Separate.* A key is unconflicted when every state set maps it to the same event; any
   other key (different events, or missing from some set) is conflicted.
2. *Full conflicted set* = conflicted events + auth difference (+ in v2.1 the conflicted
   state subgraph), computed on the auth DAG by :mod:`.auth_chain`; events the caller cannot
   provide are left out.
3. *Power events* of the full conflicted set, with their conflicted auth ancestry, are sorted
   by the reverse topological power ordering (:mod:`.power_sort`) and applied by the
   iterative auth checks (:mod:`.iterative`), starting from the unconflicted state (v2) or
   from an empty map (v2.1).
4. The *other* events of the full conflicted set are sorted by mainline ordering on the
   power levels event of that partial state (:mod:`.mainline`) and applied the same way.
5. The unconflicted state is laid over the result.

The state maps hold event ids throughout; events are fetched through the caller's lookup,
whose results the :class:`~.auth_chain.AuthGraph` does not copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ranvier.core.events import StateKey
from ranvier.core.room_versions import RoomVersion, StateResVersion
from ranvier.core.state_res.auth_chain import (
    AuthChainLookup,
    AuthGraph,
    EventLookup,
    auth_difference,
    conflicted_subgraph,
    create_event_id_of,
)
from ranvier.core.state_res.iterative import iterative_auth_checks
from ranvier.core.state_res.mainline import mainline_sort
from ranvier.core.state_res.power_sort import is_power_event, reverse_topological_power_sort

_PL_KEY: StateKey = ("m.room.power_levels", "")


def separate(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """Split into the unconflicted state map and, per conflicted key, its events
    (rooms/v2 "Unconflicted state map and conflicted state set")."""
    # Compare every other set with the first, key by key (a dict lookup per key is far
    # cheaper than building and hashing ``(key, event)`` item tuples).
    first = state_sets[0]
    n_first = len(first)
    bad: set[StateKey] = set()
    for other in state_sets[1:]:
        get = other.get
        differing = [k for k, v in first.items() if get(k) != v]
        bad.update(differing)
        # ``other`` holds at least ``n_first - len(differing)`` of the first set's keys; if it
        # is no bigger than that, it has no key the first set lacks.
        if len(other) > n_first - len(differing):
            bad.update(other.keys() - first.keys())
    unconflicted = dict(first)
    conflicted: dict[StateKey, set[str]] = {}
    for key in bad:
        unconflicted.pop(key, None)
        conflicted[key] = {s[key] for s in state_sets if key in s}
    return unconflicted, conflicted


def _implicit_create(
    room_version: RoomVersion, conflicted_ids: set[str], get_event: EventLookup
) -> str | None:
    """The v12 create event id, implied by the room id of the events being resolved."""
    if not room_version.room_id_from_create_event:
        return None
    for eid in conflicted_ids:
        ev = get_event(eid)
        if ev is not None:
            return create_event_id_of(room_version, ev.room_id)
    return None


def resolve_v2(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    get_event: EventLookup,
    get_auth_chain: AuthChainLookup | None = None,
    is_rejected: Callable[[str], bool] | None = None,
) -> dict[StateKey, str]:
    """Resolve ``state_sets`` with v2, or v2.1 when ``room_version.state_res`` says so."""
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    unconflicted, conflicted = separate(state_sets)
    if not conflicted:
        return unconflicted
    v21 = room_version.state_res is StateResVersion.V2_1

    conflicted_by_set = [{s[k] for k in conflicted if k in s} for s in state_sets]
    conflicted_ids: set[str] = set().union(*conflicted_by_set)
    graph = AuthGraph(
        get_event, get_auth_chain, _implicit_create(room_version, conflicted_ids, get_event)
    )
    diff, below = auth_difference(graph, unconflicted.values(), conflicted_by_set)
    full = conflicted_ids | diff
    if v21:
        full |= conflicted_subgraph(graph, conflicted_ids, below)
    known: set[str] = set()  # the full conflicted set, less events the caller lacks
    power: list[str] = []
    for eid in full:
        ev = get_event(eid)
        if ev is not None:
            known.add(eid)
            if is_power_event(ev):
                power.append(eid)
    full = known
    sorted_power = reverse_topological_power_sort(power, full, graph)

    state: dict[StateKey, str] = {} if v21 else dict(unconflicted)
    iterative_auth_checks(sorted_power, state, graph, is_rejected)

    picked = set(sorted_power)
    leftover = mainline_sort((eid for eid in full if eid not in picked), state.get(_PL_KEY), graph)
    iterative_auth_checks(leftover, state, graph, is_rejected)

    state.update(unconflicted)
    return state
