"""Which membership events a device already holds, to leave redundant ones out of
lazy-loading syncs (client-server-api "Lazy-loading room members").

The spec lets a server "assume that clients will remember membership events they have
already been sent, and choose to skip sending membership events for members whose
membership has not changed", unless the filter sets ``include_redundant_members``.
Sending a redundant one is always allowed, so this is a bounded, in-memory cache: losing
it (a restart, an eviction) only costs bandwidth.

Theory of operation. A response may be lost, and the client then repeats its request
with the same ``since``; so what a response carried is only *pending* until the client
proves it received it, by presenting that response's ``next_batch`` as ``since``.
Per device, pending records are kept by the ``next_batch`` events position of their
response: ``{room: (members sent, whether the room was sent whole)}``. When a request
comes with ``since`` = P, the records of the response at P are *confirmed* (merged into
the device's per-room map ``{member: event NID}``; a room sent whole replaces what was
known of it, as the client rebuilt that room's state) and every pending record at or
before P is dropped (it was either confirmed, or belongs to a response the client never
got). Only confirmed members are left out of later responses.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

MAX_DEVICES = 10_000
"""Devices whose confirmed members are kept (least recently syncing go first)."""

MAX_PENDING = 8
"""Unconfirmed responses kept per device (a long-poll may build several)."""

MAX_MEMBERS_PER_ROOM = 2_000
"""Members remembered per room and device; beyond that, older ones are resent."""

_Device = tuple[str, str | None]
_Pending = dict[int, tuple[list[tuple[str, int]], bool]]


class _DeviceState:
    __slots__ = ("confirmed", "pending")

    def __init__(self) -> None:
        self.confirmed: dict[int, dict[str, int]] = {}
        self.pending: dict[int, _Pending] = {}


class LazyMemberCache:
    """Membership events sent to each device, per room (see the module docstring)."""

    def __init__(self, max_devices: int = MAX_DEVICES) -> None:
        self._max_devices = max_devices
        self._devices: OrderedDict[_Device, _DeviceState] = OrderedDict()

    def _device(self, user_id: str, device_id: str | None) -> _DeviceState:
        key = (user_id, device_id)
        state = self._devices.get(key)
        if state is None:
            state = self._devices[key] = _DeviceState()
            while len(self._devices) > self._max_devices:
                self._devices.popitem(last=False)
        self._devices.move_to_end(key)
        return state

    def confirm(self, user_id: str, device_id: str | None, since: int) -> None:
        """The device presented ``since``: confirm the response it received (idempotent)."""
        self._confirm(self._device(user_id, device_id), since)

    def _confirm(self, state: _DeviceState, since: int) -> None:
        received = state.pending.get(since)
        if received is not None:
            for room_nid, (pairs, whole) in received.items():
                room = {} if whole else state.confirmed.get(room_nid, {})
                for member, nid in pairs:
                    room.pop(member, None)
                    room[member] = nid
                while len(room) > MAX_MEMBERS_PER_ROOM:
                    del room[next(iter(room))]
                state.confirmed[room_nid] = room
        for position in [p for p in state.pending if p <= since]:
            del state.pending[position]

    def delivered(
        self, user_id: str, device_id: str | None, room_nid: int, since: int
    ) -> dict[str, int]:
        """``{member: event NID}`` the device surely holds in the room, given the
        ``since`` position it presented."""
        state = self._device(user_id, device_id)
        self._confirm(state, since)
        return state.confirmed.get(room_nid, {})

    def record(
        self,
        user_id: str,
        device_id: str | None,
        room_nid: int,
        sent: Iterable[tuple[str, int]],
        position: int,
        *,
        whole: bool = False,
    ) -> None:
        """Note the ``(member, event NID)`` pairs a response whose ``next_batch`` is at
        ``position`` carries for the room; ``whole``: the room was sent whole."""
        state = self._device(user_id, device_id)
        response = state.pending.get(position)
        if response is None:
            response = state.pending[position] = {}
            while len(state.pending) > MAX_PENDING:
                del state.pending[min(state.pending)]
        response[room_nid] = (list(sent), whole)

    def __len__(self) -> int:
        return len(self._devices)
