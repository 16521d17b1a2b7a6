"""State resolution v1 (room v1).

Spec: rooms/v1 "State resolution". The spec warns that this algorithm can reset state; it
exists only so that ranvier agrees with other servers on version 1 rooms.

Theory of operation
-------------------
A key is *conflicted* when two state sets map it to different events; a key present in only
some sets is not a conflict. ``R`` starts as the union of the unconflicted entries. Then, in
four passes:

1. power levels, 2. join rules, 3. memberships: for each conflicted key of the pass, its
   events are sorted by ascending ``depth`` then descending ``sha1(event_id)``; the first is
   taken, and each following one replaces it while it passes the authorization rules against
   ``R`` with the key's current winner; the first failure ends the key's chain;
4. every other conflicted key: the first event by descending ``depth`` then ascending
   ``sha1(event_id)`` that passes auth against ``R`` wins.

Two points the spec leaves open are settled the way deployed servers settle them, so that
servers converge:

* within one pass every key is checked against ``R`` as it stood when the pass began (the
  spec gives no order between keys, so updating ``R`` key by key would make the result depend
  on dict order); ``R`` is updated with the pass's winners when the pass ends;
* in pass 4, when no event of a key passes auth, the last one in the order (lowest depth) is
  kept rather than dropping the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

from ranvier.core.auth import AuthError, auth_types_for_event, check_auth_rules
from ranvier.core.events import Event, StateKey
from ranvier.core.state_res.auth_chain import EventLookup

_PL_KEY: StateKey = ("m.room.power_levels", "")
_CREATE_KEY: StateKey = ("m.room.create", "")


def separate_v1(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """Unconflicted entries (including keys present in only some sets) and conflicts."""
    unconflicted: dict[StateKey, str] = dict(state_sets[0])
    conflicted: dict[StateKey, set[str]] = {}
    for other in state_sets[1:]:
        for key, eid in other.items():
            current = unconflicted.get(key)
            if current is None:
                ids = conflicted.get(key)
                if ids is None:
                    unconflicted[key] = eid
                else:
                    ids.add(eid)
            elif current != eid:
                conflicted[key] = {current, eid}
                del unconflicted[key]
    return unconflicted, conflicted


def _sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode("utf-8")).hexdigest()


def _allowed(event: Event, r: Mapping[StateKey, str], get_event: EventLookup) -> bool:
    """Whether ``event`` passes the authorization rules in state ``r``."""
    needed = auth_types_for_event(
        event.room_version, event.type, event.state_key, event.sender, event.content
    )
    auth_events: dict[StateKey, Event] = {}
    for key in (*needed, _CREATE_KEY):
        sid = r.get(key)
        if sid is not None and key not in auth_events:
            sev = get_event(sid)
            if sev is not None:
                auth_events[key] = sev
    try:
        check_auth_rules(event, auth_events)
    except AuthError:
        return False
    return True


class _Overlay(Mapping[StateKey, str]):
    """``base`` with one key replaced, without copying ``base``."""

    __slots__ = ("base", "key", "value")

    def __init__(self, base: Mapping[StateKey, str], key: StateKey, value: str) -> None:
        self.base = base
        self.key = key
        self.value = value

    def __getitem__(self, key: StateKey) -> str:
        if key == self.key:
            return self.value
        return self.base[key]

    def __iter__(self) -> Iterator[StateKey]:
        yield self.key
        for k in self.base:
            if k != self.key:
                yield k

    def __len__(self) -> int:
        return len(self.base) + (0 if self.key in self.base else 1)


def _resolve_auth_key(
    events: list[Event], r: Mapping[StateKey, str], get_event: EventLookup
) -> str:
    """Passes 1-3 for one key."""
    events.sort(key=lambda e: (e.depth, _invert(_sha1(e.event_id))))
    winner = events[0]
    for ev in events[1:]:
        if not _allowed(
            ev, _Overlay(r, (winner.type, winner.state_key or ""), winner.event_id), get_event
        ):
            break
        winner = ev
    return winner.event_id


def _invert(hexdigest: str) -> str:
    """A string whose ascending order is the descending order of ``hexdigest``."""
    return hexdigest.translate(_INVERT)


_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")


def resolve_v1(
    state_sets: Sequence[Mapping[StateKey, str]], get_event: EventLookup
) -> dict[StateKey, str]:
    """Resolve ``state_sets`` with the room v1 algorithm."""
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    r, conflicted = separate_v1(state_sets)
    if not conflicted:
        return r
    by_key: dict[StateKey, list[Event]] = {}
    for key, ids in conflicted.items():
        events = [ev for ev in map(get_event, ids) if ev is not None]
        if len(events) == 1:
            r[key] = events[0].event_id
        elif events:
            by_key[key] = events

    passes = (
        [k for k in by_key if k == _PL_KEY],
        [k for k in by_key if k[0] == "m.room.join_rules"],
        [k for k in by_key if k[0] == "m.room.member"],
    )
    for keys in passes:
        winners = {k: _resolve_auth_key(by_key.pop(k), r, get_event) for k in keys}
        r.update(winners)

    winners = {}
    for key, events in by_key.items():
        events.sort(key=lambda e: (-e.depth, _sha1(e.event_id)))
        chosen = events[-1]
        for ev in events:
            if _allowed(ev, r, get_event):
                chosen = ev
                break
        winners[key] = chosen.event_id
    r.update(winners)
    return r
