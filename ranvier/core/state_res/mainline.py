"""Mainline ordering (state resolution v2 and v2.1, step 3).

Spec: rooms/v2 "State resolution" -> "Definitions" -> "Mainline ordering".

Theory of operation
-------------------
The mainline of the resolved power levels event ``P0`` is ``P0, P1, ...``, each ``P(i+1)``
the power levels event among the auth events of ``Pi``. An event's *mainline position* is the
index ``i`` of the first ``Pi`` met when following the same power-levels links from the event
(the event itself excluded), or infinity if none is met. Events sort by greater position
first, then smaller ``origin_server_ts``, then smaller event id.

Following power-levels links from many events revisits the same chain of power levels
events again and again, so the position found for every power levels event on the way is
memoised: each power levels event of the room is walked at most once per resolution.
Positions are turned into sort keys ``-position`` with infinity as ``-INF``, so the sort key
is a tuple of ints and a string.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.core.state_res.auth_chain import AuthGraph

_INF = 1 << 62


def _pl_parent(event_id: str, graph: AuthGraph) -> str | None:
    """The ``m.room.power_levels`` event among the auth events of ``event_id``, if any."""
    get_event = graph.get_event
    for aid in graph.auth_ids(event_id):
        aev = get_event(aid)
        if aev is not None and aev.type == "m.room.power_levels" and aev.state_key == "":
            return aid
    return None


def mainline_sort(
    event_ids: Iterable[str], power_levels_id: str | None, graph: AuthGraph
) -> list[str]:
    """Sort ``event_ids`` by mainline ordering based on ``power_levels_id`` (which may be
    None when the partially resolved state has no power levels: every position is then
    infinite and the order falls back to timestamp and id)."""
    ids = list(event_ids)
    if not ids:
        return ids
    position: dict[str, int] = {}  # power levels event id -> mainline position
    pl = power_levels_id
    i = 0
    while pl is not None and pl not in position:
        position[pl] = i
        i += 1
        pl = _pl_parent(pl, graph)
    # memo of positions found for power levels events outside the mainline
    found: dict[str, int] = dict(position)
    get_event = graph.get_event

    def key(eid: str) -> tuple[int, int, str]:
        ev = get_event(eid)
        assert ev is not None
        path: list[str] = []
        on_path: set[str] = set()  # guards against (malformed) cycles
        cur = _pl_parent(eid, graph)
        pos = _INF
        while cur is not None and cur not in on_path:
            known = found.get(cur)
            if known is not None:
                pos = known
                break
            path.append(cur)
            on_path.add(cur)
            cur = _pl_parent(cur, graph)
        for p in path:
            found[p] = pos
        return (-pos, ev.origin_server_ts, eid)

    ids.sort(key=key)
    return ids
