"""Profile changes carried into room membership events (client-server-api "Profiles",
"Events on Change of Profile Information").

The spec: "changes to these fields cause an automatic propagation event to occur ...
an ``m.room.member`` event (with a ``join`` membership) is sent to every room the user
is a member of, to update the ``displayname`` and ``avatar_url``." The profile service
(:class:`ranvier.users.profiles.ProfileService`) calls :meth:`ProfileMemberUpdater.
on_profile_change` after each change; for every room the user is joined to, the current
join event's content gets the new ``displayname``/``avatar_url`` (a removed field is
dropped) and is sent again, through :meth:`ranvier.rooms.service.RoomService.set_state`,
which sends nothing when the content is already the same. Other keys of the content
(``reason``, custom keys) are kept. A room that refuses the event (the user lacks the
power, say) is skipped and logged: a profile change must not fail because of one room.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ranvier.http.types import MatrixError
from ranvier.rooms.service import RoomService

log = logging.getLogger(__name__)

PROFILE_KEYS = ("displayname", "avatar_url")


def updated_member_content(
    content: Mapping[str, Any], profile: Mapping[str, Any]
) -> dict[str, Any]:
    """``content`` of a join event with ``displayname``/``avatar_url`` taken from
    ``profile`` (string values only; absent ones removed)."""
    out = dict(content)
    for key in PROFILE_KEYS:
        value = profile.get(key)
        if isinstance(value, str) and value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


class ProfileMemberUpdater:
    """Sends the updated membership events of a user whose profile changed."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def on_profile_change(self, user_id: str, profile: dict[str, Any]) -> None:
        """A :data:`ranvier.users.profiles.ProfileListener`."""
        if not self.rooms.is_local(user_id):
            return
        for room_id in await self.rooms.joined_rooms(user_id):
            try:
                current = await self.rooms.get_state_content(
                    room_id, user_id, "m.room.member", user_id
                )
                if current.get("membership") != "join":
                    continue
                content = updated_member_content(current, profile)
                if content != current:
                    await self.rooms.set_state(room_id, user_id, "m.room.member", user_id, content)
            except MatrixError as exc:
                log.info("profile change of %s not sent to %s: %s", user_id, room_id, exc)
