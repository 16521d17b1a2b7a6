"""The auth DAG as state resolution sees it: auth chains, auth difference, conflicted subgraph.

Spec: rooms/v2 "State resolution" -> "Definitions" (*auth chain*, *auth difference*), and
rooms/v12 "State resolution" -> "Definitions" (*conflicted state subgraph*, MSC4297).

Theory of operation
-------------------
:class:`AuthGraph` wraps the caller's ``get_event`` and memoises, per event id, the tuple of
its auth event ids (the *edges* of the auth DAG). Every set-valued question is then a plain
graph walk with one ``visited`` set, which costs O(nodes + edges reached) with no per-event
set objects: far cheaper in Python than materialising and unioning a frozenset auth chain for
each of the thousands of events in a big room's state. When the caller can answer
``get_auth_chain(event_id)`` cheaply (e.g. from a precomputed index), :meth:`AuthGraph.closure`
uses it instead of walking.

Room v12 (MSC4291) removes the create event from ``auth_events`` but keeps it as an implicit
auth event of every other event of the room; :func:`effective_auth_ids` adds it back, so the
create event is part of every auth chain in every room version.

*Auth difference.* Write ``C_i`` for the full auth chain of state set ``S_i``. Following the
deployed implementations, ``C_i`` contains the events of ``S_i`` themselves as well as their
auth chains (otherwise an event present in every state set would count as "different" merely
because another event of one set cites it). Split each ``S_i`` into the unconflicted events
``U`` (the same in every set) and its conflicted events ``K_i``; with ``A = closure(U)`` and
``B_i = closure(K_i)``, ``C_i = A | B_i`` and by distributivity

    union(C_i) - intersection(C_i) = (union(B_i) - intersection(B_i)) - A.

The ``B_i`` are small (they start at the conflicted events); ``A`` is large but is only used to
filter the few candidates, so :func:`auth_difference` walks it with an early exit once every
candidate has been found.

*Conflicted state subgraph.* The events on some auth path from one conflicted event to another
(endpoints included). With ``below = closure(conflicted)``, an event ``x`` of ``below`` is on
such a path exactly when some conflicted event is reachable from ``x`` (``x`` is below a
conflicted event by construction, and the DAG has no cycles, so the two ends differ unless
``x`` is itself conflicted). :func:`conflicted_subgraph` therefore reverses the edges inside
``below`` and walks up from the conflicted events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion

EventLookup = Callable[[str], Event | None]
"""``get_event(event_id)``: the event, or None when the caller does not have it."""

AuthChainLookup = Callable[[str], Iterable[str]]
"""``get_auth_chain(event_id)``: every event id reachable through ``auth_events`` (not the
event itself; in room v12 including the implicit create event)."""


def create_event_id_of(room_version: RoomVersion, room_id: str) -> str | None:
    """The id of the room's create event when the room id is derived from it (room v12,
    "Room IDs"), else None."""
    if room_version.room_id_from_create_event and room_id.startswith("!"):
        return "$" + room_id[1:]
    return None


def effective_auth_ids(event: Event) -> tuple[str, ...]:
    """The auth event ids of ``event``, plus the implicit create event in room v12.

    Spec: rooms/v12 "Authorization rules" (the create event is no longer listed in
    ``auth_events`` but is always used to authorise the event).
    """
    ids = event.auth_event_ids
    rv = event.room_version
    if rv.room_id_from_create_event and event.type != "m.room.create":
        create_id = create_event_id_of(rv, event.room_id)
        if create_id is not None and create_id not in ids:
            return (*ids, create_id)
    return ids


class AuthGraph:
    """Memoised auth edges over the caller's event lookup. See the module docstring.

    ``implicit_create`` is the id of the room's create event in room v12, where it is an auth
    event of every other event without being listed. Walks follow the listed ``auth_events``
    and add the create event once at the end instead of materialising a longer tuple per
    event.
    """

    __slots__ = ("_edges", "get_auth_chain", "get_event", "implicit_create")

    def __init__(
        self,
        get_event: EventLookup,
        get_auth_chain: AuthChainLookup | None = None,
        implicit_create: str | None = None,
    ):
        """``get_event`` resolves ids; ``get_auth_chain`` optionally short-cuts closures."""
        self.get_event = get_event
        self.get_auth_chain = get_auth_chain
        self.implicit_create = implicit_create
        self._edges: dict[str, tuple[str, ...]] = {}

    def auth_ids(self, event_id: str) -> tuple[str, ...]:
        """Effective auth event ids of ``event_id`` (see :func:`effective_auth_ids`);
        empty if the event is unknown."""
        edges = self._edges.get(event_id)
        if edges is None:
            ev = self.get_event(event_id)
            edges = () if ev is None else effective_auth_ids(ev)
            self._edges[event_id] = edges
        return edges

    def closure(self, roots: Iterable[str]) -> set[str]:
        """``roots`` together with every event in their auth chains.

        Ids of events the caller does not have are included (they were referenced) but not
        walked through.
        """
        out = set(roots)
        chain = self.get_auth_chain
        if chain is not None:
            for root in list(out):
                out.update(chain(root))
            return out
        self._walk(out, list(out))
        return out

    def _walk(self, seen: set[str], stack: list[str]) -> None:
        """Depth-first walk down auth edges from ``stack``, adding every event to ``seen``."""
        get_event = self.get_event
        create = self.implicit_create
        if create is not None and stack:
            seen.add(create)  # below every event of a v12 room (a lone create included)
        pop, push, add = stack.pop, stack.append, seen.add
        while stack:
            ev = get_event(pop())
            if ev is None:
                continue
            for aid in ev.auth_event_ids:
                if aid not in seen:
                    add(aid)
                    push(aid)

    def reaches_which(
        self, roots: Iterable[str], targets: set[str], prune: set[str] | None = None
    ) -> set[str]:
        """The members of ``targets`` inside ``closure(roots)``, walking only as far as
        needed: the walk stops once every target is found, and does not go below events of
        ``prune`` (which must have no target in their closure)."""
        if self.get_auth_chain is not None:
            return self.closure(roots) & targets
        seen = set(roots)
        found = seen & targets
        wanted = targets - found
        create = self.implicit_create
        if create is not None and seen and create in wanted:
            wanted.discard(create)
            found.add(create)
        if not wanted:
            return found
        no_prune: set[str] = set()
        skip = prune if prune is not None else no_prune
        get_event = self.get_event
        stack = [r for r in seen if r not in skip]
        pop, push, add = stack.pop, stack.append, seen.add
        while stack:
            ev = get_event(pop())
            if ev is None:
                continue
            for aid in ev.auth_event_ids:
                if aid not in seen:
                    add(aid)
                    if aid in wanted:
                        found.add(aid)
                        wanted.discard(aid)
                        if not wanted:
                            return found
                    if aid not in skip:
                        push(aid)
        return found


def auth_difference(
    graph: AuthGraph,
    unconflicted_ids: Iterable[str],
    conflicted_by_set: Sequence[set[str]],
) -> tuple[set[str], set[str]]:
    """Return ``(auth difference, closure of all conflicted events)``.

    ``conflicted_by_set[i]`` holds the conflicted event ids of state set ``i``;
    ``unconflicted_ids`` the event ids common to every set. See the module docstring for
    why this equals the spec's ``union(C_i) - intersection(C_i)``.
    """
    closures = [graph.closure(ids) for ids in conflicted_by_set]
    union = set().union(*closures)
    common = closures[0].intersection(*closures[1:])
    candidates = union - common
    if candidates:
        # ``common`` is closed under auth edges and holds no candidate: no need to descend.
        candidates -= graph.reaches_which(unconflicted_ids, candidates, common)
    return candidates, union


def conflicted_subgraph(graph: AuthGraph, conflicted: set[str], below: set[str]) -> set[str]:
    """Events on auth paths between conflicted events, endpoints included (rooms/v12).

    ``below`` must be ``graph.closure(conflicted)`` (as returned by :func:`auth_difference`).
    """
    create = graph.implicit_create
    if create is not None and create in conflicted:
        # every event reaches the (implicit) create event: all of ``below`` is on a path
        return set(below)
    up: dict[str, list[str]] = {}
    get_event = graph.get_event
    for eid in below:
        ev = get_event(eid)
        if ev is None:
            continue
        for aid in ev.auth_event_ids:
            if aid in below:
                lst = up.get(aid)
                if lst is None:
                    up[aid] = [eid]
                else:
                    lst.append(eid)
    seen = set(conflicted)
    stack = [c for c in conflicted if c in up]
    while stack:
        for parent in up.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen
