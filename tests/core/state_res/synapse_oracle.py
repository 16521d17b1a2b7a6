"""Resolve state with Synapse's resolver: a test oracle run under Synapse's own Python.

Run as ``$RANVIER_SYNAPSE_PYTHON tests/core/state_res/synapse_oracle.py < cases.json``. It
must not import ranvier (it runs in Synapse's virtualenv, and must stay independent of the
code it checks).

Input (JSON on stdin)::

    {"cases": [{"room_version": "10",
                "room_id": "!r:x",
                "events": [pdu, ...],          # every event the resolution may need
                "state_sets": [[[type, state_key, event_id], ...], ...],
                "repeat": 1}]}                  # optional: runs, the fastest is reported

Output (JSON on stdout)::

    {"results": [{"state": [[type, state_key, event_id], ...],
                  "event_ids": [id of each input pdu as Synapse computes it, ...],
                  "cpu": CPU seconds inside the resolver (fastest run),
                  "cpu_store": seconds of that spent in this script's store adaptor}]}

Theory of operation: Synapse's v2 resolver (``synapse.state.v2.resolve_events_with_store``)
asks a *store* for events and for the auth chain difference (and, for v2.1, the conflicted
state subgraph), which Synapse normally answers from its database. :class:`MemoryStore`
answers from the events given, with deliberately plain algorithms (one memoised auth-chain
set per event) so that it is easy to check by eye. The coroutine never really suspends (the
clock sleeps zero), so it is driven with ``send(None)``. Room v1 uses
``synapse.state.v1.resolve_events_with_store``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Coroutine, Iterable
from typing import Any

import synapse.event_auth  # noqa: F401  (imported first: breaks a circular import in synapse.state)
from synapse.api.room_versions import KNOWN_ROOM_VERSIONS, StateResolutionVersions
from synapse.events import make_event_from_dict
from synapse.state import v1 as state_v1
from synapse.state import v2 as state_v2
from synapse.storage.databases.main.event_federation import StateDifference


class ZeroClock:
    """The clock Synapse's resolver yields to; never waits."""

    async def sleep(self, duration: Any) -> None:
        return None


class MemoryStore:
    """Synapse's ``StateResolutionStore`` protocol over an in-memory event map."""

    def __init__(self, events: dict[str, Any]) -> None:
        self.events = events
        self.chains: dict[str, frozenset[str]] = {}
        self.cpu = 0.0

    def chain(self, event_id: str) -> frozenset[str]:
        """Auth chain of ``event_id`` (its auth events, recursively; not itself)."""
        done = self.chains.get(event_id)
        if done is not None:
            return done
        # iterative post-order to avoid deep recursion on long histories
        stack = [event_id]
        while stack:
            eid = stack[-1]
            if eid in self.chains:
                stack.pop()
                continue
            ev = self.events.get(eid)
            auth = list(ev.auth_event_ids()) if ev is not None else []
            todo = [a for a in auth if a not in self.chains and a in self.events]
            if todo:
                stack.extend(todo)
                continue
            acc: set[str] = set(auth)
            for a in auth:
                acc |= self.chains.get(a, frozenset())
            self.chains[eid] = frozenset(acc)
            stack.pop()
        return self.chains[event_id]

    async def get_events(
        self, event_ids: Iterable[str], allow_rejected: bool = False
    ) -> dict[str, Any]:
        return {e: self.events[e] for e in event_ids if e in self.events}

    async def get_auth_chain_difference(
        self,
        room_id: str,
        state_sets: list[set[str]],
        conflicted_state: set[str] | None,
        additional_backwards_reachable_conflicted_events: set[str] | None,
    ) -> StateDifference:
        start = time.process_time()
        full = []
        for s in state_sets:
            acc = set(s)
            for e in s:
                acc |= self.chain(e)
            full.append(acc)
        union = set().union(*full)
        diff = union - set.intersection(*full)
        subgraph = None
        if conflicted_state is not None:
            below: set[str] = set(conflicted_state)
            for c in conflicted_state:
                below |= self.chain(c)
            subgraph = {
                x
                for x in below
                if x in conflicted_state or not self.chain(x).isdisjoint(conflicted_state)
            }
        self.cpu += time.process_time() - start
        return StateDifference(auth_difference=diff, conflicted_subgraph=subgraph)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("resolver suspended unexpectedly")


def resolve_case(case: dict[str, Any]) -> dict[str, Any]:
    """Resolve one case; see the module docstring for the shapes."""
    rv = KNOWN_ROOM_VERSIONS[case["room_version"]]
    events = {}
    ids = []
    for pdu in case["events"]:
        ev = make_event_from_dict(pdu, rv)
        events[ev.event_id] = ev
        ids.append(ev.event_id)
    room_id = case["room_id"]
    state_sets = [{(t, k): e for t, k, e in s} for s in case["state_sets"]]
    best: tuple[float, float] | None = None
    for _ in range(case.get("repeat", 1)):
        store = MemoryStore(events)
        start = time.process_time()
        if rv.state_res == StateResolutionVersions.V1:

            async def factory(wanted: Iterable[str]) -> dict[str, Any]:
                return {e: events[e] for e in wanted if e in events}

            coro = state_v1.resolve_events_with_store(room_id, rv, state_sets, None, factory)
        else:
            coro = state_v2.resolve_events_with_store(
                ZeroClock(), room_id, rv, state_sets, None, store
            )
        result = run(coro)
        cpu = time.process_time() - start
        if best is None or cpu < best[0]:
            best = (cpu, store.cpu)
    assert best is not None
    return {
        "state": sorted([t, k, e] for (t, k), e in result.items()),
        "event_ids": ids,
        "cpu": best[0],
        "cpu_store": best[1],
    }


def main() -> None:
    data = json.load(sys.stdin)
    out = {"results": [resolve_case(c) for c in data["cases"]]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
