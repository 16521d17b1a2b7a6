"""Events of a user who deactivated with ``erase``, as other users see them, over HTTP
on SQLite and PostgreSQL: members who were joined when an event was sent, or who
joined before the erasure (shared history let them see it), still see it whole; users
who join after the erasure get it redacted, in ``/sync``, ``/messages`` and
``/context`` (account_deactivation.yaml ``erase``). Sytest 30rooms/32erasure.pl wants
the second kind redacted too (Synapse's reading); the spec's text is followed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


def _content(events: list[Any], event_id: str) -> Any:
    (found,) = [e for e in events if e["event_id"] == event_id]
    return found["content"]


async def test_only_users_who_could_see_it_before_the_erasure_keep_a_message(
    hs: Hs,  # noqa: F811
) -> None:
    _, t_creator = await hs.user("creator")
    _, t_member = await hs.user("member")
    _, t_joiner = await hs.user("joiner")
    _, t_late = await hs.user("late")
    room = await hs.create_room(t_creator, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=t_member)
    sent = await hs.ok(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/1", {"body": "body1"}, token=t_creator
    )
    message = sent["event_id"]
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=t_joiner)

    async def timeline(token: str) -> list[Any]:
        body = await hs.ok("GET", f"{V3}/sync", token=token)
        events: list[Any] = body["rooms"]["join"][room]["timeline"]["events"]
        return events

    assert _content(await timeline(t_joiner), message) == {"body": "body1"}
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "creator"},
        "password": "pw",
    }
    await hs.ok("POST", f"{V3}/account/deactivate", {"auth": auth, "erase": True}, token=t_creator)

    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=t_late)

    assert _content(await timeline(t_member), message) == {"body": "body1"}
    assert _content(await timeline(t_joiner), message) == {"body": "body1"}
    assert _content(await timeline(t_late), message) == {}
    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=20", token=t_late)
    assert _content(page["chunk"], message) == {}
    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=20", token=t_joiner)
    assert _content(page["chunk"], message) == {"body": "body1"}
    context = await hs.ok(
        "GET", f"{V3}/rooms/{room}/context/{quote(message)}?limit=2", token=t_late
    )
    assert context["event"]["content"] == {}
