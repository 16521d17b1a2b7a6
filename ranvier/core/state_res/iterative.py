"""Iterative auth checks (state resolution v2 and v2.1, steps 2 and 4).

Spec: rooms/v2 "State resolution" -> "Definitions" -> "Iterative auth checks", and
"Rejected events"; rooms/v12 (the create event is an implicit auth event).

Theory of operation
-------------------
Events are taken in the given order. For each, the auth events the authorization rules need
(:func:`ranvier.core.auth.auth_types_for_event`) are read from the state built so far; a key
missing there is taken from the event's own auth events, unless that auth event was rejected.
If :func:`ranvier.core.auth.check_auth_rules` accepts the event against that map, the event
replaces its key in the state; otherwise it is skipped.

In room v12 the create event is not listed in ``auth_events``; it is still one of the event's
auth events (:func:`~ranvier.core.state_res.auth_chain.effective_auth_ids`), so it is found
here like any other, which matters because v2.1 starts from an empty state.

The state is mutated in place: both passes of v2 work on one dict, with no copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ranvier.core.auth import AuthError, auth_types_for_event, check_auth_rules
from ranvier.core.events import Event, StateKey
from ranvier.core.state_res.auth_chain import AuthGraph

_CREATE_KEY: StateKey = ("m.room.create", "")


def iterative_auth_checks(
    event_ids: Iterable[str],
    state: dict[StateKey, str],
    graph: AuthGraph,
    is_rejected: Callable[[str], bool] | None,
) -> None:
    """Apply the events of ``event_ids`` that pass auth to ``state`` (in place)."""
    get_event = graph.get_event
    state_get = state.get
    for eid in event_ids:
        event = get_event(eid)
        if event is None or event.state_key is None:
            continue
        needed = auth_types_for_event(
            event.room_version, event.type, event.state_key, event.sender, event.content
        )
        if _CREATE_KEY not in needed:  # always an auth event (implicitly so in room v12)
            needed = needed | {_CREATE_KEY}
        auth_events: dict[StateKey, Event] = {}
        missing: list[StateKey] = []
        for key in needed:
            sid = state_get(key)
            sev = get_event(sid) if sid is not None else None
            if sev is not None:
                auth_events[key] = sev
            else:
                missing.append(key)
        if missing:
            # Fall back to the event's own (non-rejected) auth events for those keys.
            for aid in graph.auth_ids(eid):
                aev = get_event(aid)
                if aev is None or aev.state_key is None:
                    continue
                key = (aev.type, aev.state_key)
                if key in missing and not (is_rejected is not None and is_rejected(aid)):
                    auth_events[key] = aev
        try:
            check_auth_rules(event, auth_events)
        except AuthError:
            continue
        state[(event.type, event.state_key)] = eid
