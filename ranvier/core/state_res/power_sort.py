"""Reverse topological power ordering (state resolution v2 and v2.1, step 1).

Spec: rooms/v2 "State resolution" -> "Definitions" (*power events*, *reverse topological
power ordering*) and "Algorithm" step 1; rooms/v12 for v2.1 and creators' power (MSC4289).

Theory of operation
-------------------
Step 1 selects the power events of the full conflicted set together with the events of their
auth chains that lie in the full conflicted set, and sorts them with Kahn's algorithm, always
emitting, among the events whose auth events (within the set) are already emitted, the
smallest by ``(-sender power, origin_server_ts, event_id)``.

The set is found by walking down from each power event along auth edges *through events of
the full conflicted set only*, and the DAG given to Kahn's algorithm has the direct auth edges
between those events. In v2.1 this is exactly "auth chain of P intersected with the full
conflicted set": an event outside the set that lies between two events of the set would be on
a path between conflicted events, i.e. in the conflicted state subgraph. In v2 the two can
differ only when a conflicted event is reachable from a power event solely through events
common to every auth chain; the walk here is what deployed servers (Synapse, Ruma) do, and
state resolution is only useful if servers agree.

Sender power is read from the event's own auth events ("when looking at their respective
``auth_event``\\ s"): the ``users`` entry or ``users_default`` of its power levels event; with
no power levels event, the room creator has 100 and everyone else 0 (server-server-api
"Authorization rules", definition of power level). In room v12 the creators (create sender
and ``additional_creators``) have infinite power. The level itself is read by
:func:`ranvier.core.auth.get_user_power_level` on a map of just those two auth events, so the
parsing rules of each room version (strings before v10, floats before v6) are the auth
rules' own.

The heap holds ``(key, event_id)`` tuples of ints and strings; the in-degree of each event is
an int in a dict, so the loop does no allocation beyond the heap entries.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ranvier.core.auth import get_user_power_level
from ranvier.core.events import Event, StateKey
from ranvier.core.state_res.auth_chain import AuthGraph


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, or a leave/ban of someone other than the sender
    (rooms/v2 "Power events")."""
    etype = event.type
    if event.state_key is None:
        return False
    if etype == "m.room.power_levels" or etype == "m.room.join_rules":
        return True
    if etype == "m.room.member":
        membership = event.content.get("membership")
        return membership in ("leave", "ban") and event.sender != event.state_key
    return False


def sender_power(event: Event, graph: AuthGraph) -> int | float:
    """Power level of ``event``'s sender according to ``event``'s own auth events
    (``math.inf`` for v12 room creators)."""
    get_event = graph.get_event
    auth_state: dict[StateKey, Event] = {}
    for aid in graph.auth_ids(event.event_id):
        aev = get_event(aid)
        if aev is None or aev.state_key != "":
            continue
        if aev.type == "m.room.power_levels" or aev.type == "m.room.create":
            auth_state[(aev.type, "")] = aev
    return get_user_power_level(event.sender, auth_state)


def reverse_topological_power_sort(
    power_event_ids: Iterable[str], full_conflicted: set[str], graph: AuthGraph
) -> list[str]:
    """Step 1 of v2 resolution: select and sort the power events and their conflicted auth
    ancestry. Every id in ``full_conflicted`` must be resolvable by ``graph.get_event``."""
    auth_ids = graph.auth_ids
    # event id -> its auth events inside the selection (edges of the DAG to sort)
    out_edges: dict[str, list[str]] = {}
    stack = list(power_event_ids)
    for eid in stack:
        out_edges[eid] = []
    while stack:
        eid = stack.pop()
        edges = out_edges[eid]
        for aid in auth_ids(eid):
            if aid in full_conflicted:
                edges.append(aid)
                if aid not in out_edges:
                    out_edges[aid] = []
                    stack.append(aid)
    return kahn_sort(out_edges, graph)


def kahn_sort(out_edges: dict[str, list[str]], graph: AuthGraph) -> list[str]:
    """Lexicographically smallest topological order (auth events first) of the DAG
    ``out_edges`` (event -> its auth events within the DAG), smallest meaning greatest
    sender power, then smallest ``origin_server_ts``, then smallest event id."""
    get_event = graph.get_event
    pending: dict[str, int] = {}
    dependants: dict[str, list[str]] = {}
    for eid, edges in out_edges.items():
        pending[eid] = len(edges)
        for aid in edges:
            lst = dependants.get(aid)
            if lst is None:
                dependants[aid] = [eid]
            else:
                lst.append(eid)

    def entry(eid: str) -> tuple[int | float, int, str]:
        ev = get_event(eid)
        assert ev is not None
        return (-sender_power(ev, graph), ev.origin_server_ts, eid)

    heap = [entry(eid) for eid, n in pending.items() if n == 0]
    heapq.heapify(heap)
    order: list[str] = []
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        eid = pop(heap)[2]
        order.append(eid)
        for dep in dependants.get(eid, ()):
            n = pending[dep] - 1
            pending[dep] = n
            if n == 0:
                push(heap, entry(dep))
    return order
