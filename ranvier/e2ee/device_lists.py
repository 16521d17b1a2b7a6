"""Device list tracking for clients: ``device_lists`` and the key counts of ``/sync``,
and ``GET /keys/changes``.

Spec: client-server-api "Tracking the device list for a user" ("changed": users "who
have updated their device identity keys" and share a room with the user -- or the user
themself; "left": users "who no longer share any encrypted room"),
"Extensions to /sync" (``device_one_time_keys_count``,
``device_unused_fallback_key_types``), ``GET /keys/changes`` (keys.yaml: the same
lists between two sync tokens).

Theory of operation
-------------------
A user's device list changes when a device is created, renamed or deleted (the account
service's device listeners: :meth:`DeviceLists.on_device_change`), when a device
uploads other keys, or when the cross-signing keys or their signatures change; each
change is a position of :class:`~ranvier.e2ee.device_list_stream.DeviceListStream`.
The users of other servers change when their servers say so (``m.device_list_update``,
``m.signing_key_update``).

:meth:`DeviceLists.changes` computes, for a range of the device list stream and the
matching range of the events stream:

* ``changed``: users with a change in the range who share a room with the user now
  (the user included), plus users who came to share a room in the range (the member
  events in the user's rooms: whoever joined, was invited or knocked, and everybody in
  a room the user joined) -- their keys are new to the user's devices -- and the users
  of changes private to the user (their own user-signing key, their signatures on
  others' master keys);
* ``left``: users with a ``leave``/``ban`` in the range, and the members of the rooms
  the user left, who no longer share any room with the user.

Encryption of the rooms is not looked at: every shared room counts (a superset, which
the spec's clients tolerate and which keeps the lists right when a room turns on
encryption later).
"""

from __future__ import annotations

from dataclasses import dataclass

from ranvier.core.events import JsonDict
from ranvier.e2ee.device_list_stream import DeviceListStream, viewer_of
from ranvier.e2ee.key_store import E2eKeyStore
from ranvier.e2ee.keys import E2eKeys


@dataclass(frozen=True, slots=True)
class DeviceListChanges:
    """The ``device_lists`` of a sync or of ``/keys/changes``."""

    changed: list[str]
    left: list[str]

    def to_json(self) -> JsonDict:
        """``{"changed": [...], "left": [...]}``."""
        return {"changed": self.changed, "left": self.left}


class DeviceLists:
    """Device list changes as clients see them (module docstring)."""

    def __init__(self, stream: DeviceListStream, keys: E2eKeys) -> None:
        self.stream = stream
        self.keys = keys

    @property
    def key_store(self) -> E2eKeyStore:
        """The key store (one-time key counts)."""
        return self.keys.keys

    async def on_device_change(self, user_id: str, device_ids: list[str], change: str) -> None:
        """An account service device listener: record the change (a deleted device's
        keys are dropped first)."""
        if change == "deleted":
            for device_id in device_ids:
                await self.keys.forget_device(user_id, device_id)
        await self.stream.record((user_id, d) for d in device_ids)

    async def current_position(self) -> int:
        """The position of the device list stream."""
        return await self.stream.current_position()

    async def changes(
        self,
        user_id: str,
        since_lists: int,
        upto_lists: int,
        since_events: int,
        upto_events: int,
    ) -> DeviceListChanges:
        """``changed`` and ``left`` between two sync positions (module docstring).

        Most incremental syncs have no device list change and no member event in
        their range: they cost two indexed reads and no room-sharing query."""
        public: set[str] = set()
        private: set[str] = set()
        if upto_lists > since_lists:
            for changed_user, device_id in await self.stream.changes(since_lists, upto_lists):
                viewer = viewer_of(device_id)
                if viewer is None:
                    public.add(changed_user)
                elif viewer == user_id:
                    private.add(changed_user)
        moves: list[tuple[str, str, str]] = []
        if upto_events > since_events:
            moves = await self.stream.membership_changes(user_id, since_events, upto_events)
        if not public and not private and not moves:
            return DeviceListChanges([], [])
        sharing = await self.stream.sharing_users(user_id)
        sharing.add(user_id)
        changed = (public & sharing) | private
        left: set[str] = set()
        left_rooms: set[str] = set()
        for room_id, member, membership in moves:
            if membership == "join":
                if member == user_id:
                    left_rooms.discard(room_id)
                elif member in sharing:
                    changed.add(member)
            elif membership in ("invite", "knock") and member != user_id:
                changed.add(member)
            elif membership in ("leave", "ban"):
                if member == user_id:
                    left_rooms.add(room_id)
                elif member not in sharing:
                    left.add(member)
        joined_rooms = {r for r, m, ms in moves if m == user_id and ms == "join"}
        for room_id in joined_rooms - left_rooms:
            changed |= await self.stream.joined_members(room_id) & sharing
        for room_id in left_rooms:
            left |= await self.stream.joined_members(room_id) - sharing
        left.discard(user_id)
        changed -= left
        return DeviceListChanges(sorted(changed), sorted(left))

    async def key_counts(self, user_id: str, device_id: str) -> JsonDict:
        """``device_one_time_keys_count`` and ``device_unused_fallback_key_types``."""
        counts = await self.key_store.one_time_key_counts(user_id, device_id)
        counts.setdefault("signed_curve25519", 0)
        return {
            "device_one_time_keys_count": counts,
            "device_unused_fallback_key_types": await self.key_store.unused_fallback_key_types(
                user_id, device_id
            ),
        }
