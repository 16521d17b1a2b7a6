"""Auth chain, auth difference and conflicted subgraph against their literal definitions.

Random DAGs (hypothesis) of up to a dozen events; the expected sets are computed the slow,
literal way: auth chains by recursion, ``union(C_i) - intersection(C_i)`` over whole state
sets, and the conflicted subgraph by enumerating every auth path between two conflicted events
(rooms/v2 and rooms/v12 "Definitions").
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.events import Event
from ranvier.core.room_versions import get_room_version
from ranvier.core.state_res.auth_chain import (
    AuthGraph,
    auth_difference,
    conflicted_subgraph,
    effective_auth_ids,
)

RV2 = get_room_version("2")


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Event id -> auth event ids; edges only to earlier events, so acyclic."""
    n = draw(st.integers(2, 12))
    graph: dict[str, list[str]] = {}
    for i in range(n):
        earlier = [f"$e{j}" for j in range(i)]
        auth = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        graph[f"$e{i}"] = auth
    return graph


def build(graph: dict[str, list[str]]) -> dict[str, Event]:
    events = {}
    for eid, auth in graph.items():
        pdu = {
            "type": "m.room.member",
            "state_key": eid,
            "sender": "@u:a",
            "room_id": "!r:a",
            "content": {},
            "auth_events": [[a, {}] for a in auth],
            "prev_events": [],
            "depth": 1,
            "origin_server_ts": 0,
        }
        events[eid] = Event(pdu, RV2, event_id=eid)
    return events


def chain(graph: dict[str, list[str]], eid: str) -> set[str]:
    out: set[str] = set()
    for a in graph[eid]:
        out.add(a)
        out |= chain(graph, a)
    return out


def paths_nodes(graph: dict[str, list[str]], a: str, b: str) -> set[str]:
    """Nodes on any auth path from ``a`` to ``b`` (inclusive); empty if none."""
    if a == b:
        return {a}
    out: set[str] = set()
    for nxt in graph[a]:
        sub = paths_nodes(graph, nxt, b)
        if sub:
            out |= sub | {a}
    return out


@settings(max_examples=200, deadline=None)
@given(graph=dags(), data=st.data())
def test_auth_difference_matches_definition(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    ids = sorted(graph)
    sets = data.draw(st.lists(st.sets(st.sampled_from(ids), min_size=1), min_size=2, max_size=3))
    full = [s | set().union(*(chain(graph, e) for e in s)) for s in sets]
    expected = set().union(*full) - set.intersection(*full)
    common = set.intersection(*sets)
    g = AuthGraph(build(graph).get)
    got, below = auth_difference(g, common, [s - common for s in sets])
    assert got == expected
    conflicted = set().union(*sets) - common
    assert below == conflicted | set().union(*(chain(graph, e) for e in conflicted))


@settings(max_examples=200, deadline=None)
@given(graph=dags(), data=st.data())
def test_conflicted_subgraph_matches_definition(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    conflicted = data.draw(st.sets(st.sampled_from(sorted(graph)), min_size=1))
    expected = set(conflicted)
    for a in conflicted:
        for b in conflicted:
            if a != b:
                expected |= paths_nodes(graph, a, b)
    g = AuthGraph(build(graph).get)
    below = g.closure(conflicted)
    assert conflicted_subgraph(g, conflicted, below) == expected


def test_v12_create_is_an_implicit_auth_event() -> None:
    rv = get_room_version("12")
    create = Event(
        {
            "type": "m.room.create",
            "state_key": "",
            "sender": "@a:a",
            "content": {"room_version": "12"},
            "auth_events": [],
            "prev_events": [],
            "depth": 1,
            "origin_server_ts": 1,
        },
        rv,
        event_id="$create",
    )
    member = Event(
        {
            "type": "m.room.member",
            "state_key": "@a:a",
            "sender": "@a:a",
            "room_id": "!create",
            "content": {"membership": "join"},
            "auth_events": [],
            "prev_events": ["$create"],
            "depth": 2,
            "origin_server_ts": 2,
        },
        rv,
        event_id="$member",
    )
    assert effective_auth_ids(create) == ()
    assert effective_auth_ids(member) == ("$create",)
    events = {"$create": create, "$member": member}
    graph = AuthGraph(events.get, implicit_create="$create")
    assert graph.closure(["$member"]) == {"$member", "$create"}
    assert graph.auth_ids("$member") == ("$create",)
