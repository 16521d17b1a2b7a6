"""State resolution: the state of a room where its history forks.

Spec: rooms/v1 "State resolution" (room v1), rooms/v2 "State resolution" (rooms v2-v11) and
rooms/v12 "State resolution" (v2.1, MSC4297). The algorithm is chosen by
``room_version.state_res``.

How the package works: :func:`resolve_state` is the only entry point. It is pure (no I/O, no
asyncio): the caller passes the state sets as maps of event ids and a ``get_event`` lookup
that returns any event the algorithm asks for (conflicted events, their auth events and auth
chains). :mod:`.auth_chain` memoises the auth DAG and computes auth chains, the auth
difference and the v2.1 conflicted subgraph; :mod:`.power_sort` and :mod:`.mainline` are the
two orderings; :mod:`.iterative` applies the authorization rules
(:mod:`ranvier.core.auth`); :mod:`.v1` and :mod:`.v2` are the algorithms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import RoomVersion, StateResVersion
from ranvier.core.state_res.v1 import resolve_v1
from ranvier.core.state_res.v2 import resolve_v2

__all__ = ["resolve_state"]


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    get_event: Callable[[str], Event | None],
    get_auth_chain: Callable[[str], Iterable[str]] | None = None,
    *,
    is_rejected: Callable[[str], bool] | None = None,
) -> dict[StateKey, str]:
    """Resolve ``state_sets`` (maps ``(type, state_key) -> event id``) into one state map.

    ``get_event`` returns the event for an id, or None if unknown (unknown conflicted events
    are left out of the resolution; unknown auth events are not followed).
    ``get_auth_chain(event_id)``, if given, returns every event id reachable from the event
    through auth events (in room v12 including the implicit create event); otherwise chains
    are found by walking ``auth_events`` through ``get_event``, memoised for this call.
    ``is_rejected(event_id)``, if given, marks events rejected by the authorization rules:
    such an event is not used as an auth event from an event's own ``auth_events`` in the
    iterative auth checks (rooms/v2 "Rejected events"). It has no effect in v1.

    The result is a new dict; the inputs are not modified.
    """
    if room_version.state_res is StateResVersion.V1:
        return resolve_v1(state_sets, get_event)
    return resolve_v2(room_version, state_sets, get_event, get_auth_chain, is_rejected)
