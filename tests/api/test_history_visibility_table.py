"""History visibility over HTTP, as a table: each ``history_visibility`` setting against
each reading endpoint (``/event``, ``/context``, ``/messages``, ``/relations``,
``/sync``) for users whose membership differs when the events were sent. Runs on
SQLite and PostgreSQL.

Spec: client-server-api "Room History Visibility", "Server behaviour" -- with the state
at the event: (1) ``world_readable`` allows; (2) a user whose membership was ``join``
is allowed; (3) with ``shared``, a user who joined at any point after the event is
allowed; (4) with ``invited``, a user whose membership was ``invite`` is allowed; (5)
otherwise deny. Endpoints answer an invisible event with 404 ``M_NOT_FOUND``
(rooms.yaml ``/event``, event_context.yaml, relations.yaml) and leave it out of
``/messages`` and ``/sync``; a user who never had any membership is refused
``/messages`` and ``/context`` with 403 unless the room is world-readable
(message_pagination.yaml; Synapse answers /context the same way).

The story of each room (the phases are the events whose visibility is checked; each
message has an ``m.reference`` child sent right after it, in the same phase):

1. alice creates a public room with the setting under test and invites dave (who
   never answers); then message 1 (bob has no membership);
2. alice invites bob; message 2 (bob invited);
3. bob joins; message 3 (bob joined);
4. bob leaves; message 4 (bob left);
5. carol joins ("joined later": no membership at any message).

eve never has any membership.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.sync_helpers import sync
from tests.api.test_directory_fixtures import V1, V3, Hs, hs  # noqa: F401

PHASES = (1, 2, 3, 4)
ALL = frozenset(PHASES)
NONE: frozenset[int] = frozenset()

EXPECTED: dict[str, dict[str, frozenset[int]]] = {
    # rule 1: everyone, always
    "world_readable": {"bob": ALL, "carol": ALL, "dave": ALL, "eve": ALL},
    # rule 3: bob joined after 1 and 2 and was joined at 3; carol joined after all;
    # dave never joined; eve never joined
    "shared": {"bob": frozenset({1, 2, 3}), "carol": ALL, "dave": NONE, "eve": NONE},
    # rule 4: bob was invited at 2 and joined at 3; dave was invited throughout
    "invited": {"bob": frozenset({2, 3}), "carol": NONE, "dave": ALL, "eve": NONE},
    # rule 2 only
    "joined": {"bob": frozenset({3}), "carol": NONE, "dave": NONE, "eve": NONE},
}


class Story:
    """One room and its checked events."""

    def __init__(self, h: Hs, room: str, tokens: dict[str, str]) -> None:
        self.h = h
        self.room = room
        self.tokens = tokens
        self.messages: dict[int, str] = {}
        self.children: dict[int, str] = {}

    async def message(self, phase: int) -> None:
        a = self.tokens["alice"]
        base = f"{V3}/rooms/{self.room}/send/m.room.message"
        sent = await self.h.ok("PUT", f"{base}/m{phase}", {"body": f"m{phase}"}, token=a)
        self.messages[phase] = sent["event_id"]
        child = {
            "body": f"ref{phase}",
            "m.relates_to": {"rel_type": "m.reference", "event_id": sent["event_id"]},
        }
        sent = await self.h.ok("PUT", f"{base}/r{phase}", child, token=a)
        self.children[phase] = sent["event_id"]

    def ids(self, phases: frozenset[int]) -> set[str]:
        return {self.messages[p] for p in phases} | {self.children[p] for p in phases}

    def checked(self) -> set[str]:
        return self.ids(ALL)


async def tell(h: Hs, visibility: str) -> Story:
    tokens: dict[str, str] = {}
    users: dict[str, str] = {}
    for name in ("alice", "bob", "carol", "dave", "eve"):
        users[name], tokens[name] = await h.user(name)
    room = await h.create_room(
        tokens["alice"],
        preset="public_chat",
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": visibility},
            }
        ],
    )
    story = Story(h, room, tokens)
    invite = f"{V3}/rooms/{room}/invite"
    await h.ok("POST", invite, {"user_id": users["dave"]}, token=tokens["alice"])
    await story.message(1)
    await h.ok("POST", invite, {"user_id": users["bob"]}, token=tokens["alice"])
    await story.message(2)
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=tokens["bob"])
    await story.message(3)
    await h.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=tokens["bob"])
    await story.message(4)
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=tokens["carol"])
    return story


async def status_of(h: Hs, path: str, token: str) -> tuple[int, Any]:
    return await h.request("GET", path, token=token)


@pytest.mark.parametrize("visibility", sorted(EXPECTED))
async def test_visibility_table(hs: Hs, visibility: str) -> None:  # noqa: F811
    story = await tell(hs, visibility)
    room = story.room
    failures: list[str] = []

    def check(endpoint: str, user: str, phase: int | str, got: Any, want: Any) -> None:
        if got != want:
            failures.append(f"{visibility} {endpoint} {user} {phase}: got {got}, want {want}")

    for user, visible in EXPECTED[visibility].items():
        token = story.tokens[user]
        for phase in PHASES:
            event_id = story.messages[phase]
            seen = phase in visible
            # /event
            status, body = await status_of(hs, f"{V3}/rooms/{room}/event/{event_id}", token)
            check("/event", user, phase, status, 200 if seen else 404)
            if not seen:
                check("/event errcode", user, phase, body.get("errcode"), "M_NOT_FOUND")
            # /context: the event, and only visible events around it
            status, body = await status_of(
                hs, f"{V3}/rooms/{room}/context/{event_id}?limit=40", token
            )
            # /context refuses a user with no membership at all as /messages does (403)
            outsider = user == "eve" and visibility != "world_readable"
            check("/context", user, phase, status, 200 if seen else 403 if outsider else 404)
            if status == 200:
                around = {e["event_id"] for e in body["events_before"] + body["events_after"]}
                check("/context event", user, phase, body["event"]["event_id"], event_id)
                check(
                    "/context around",
                    user,
                    phase,
                    around & story.checked(),
                    story.ids(visible) - {event_id},
                )
            # /relations: the parent must be visible; its child then is too
            status, body = await status_of(hs, f"{V1}/rooms/{room}/relations/{event_id}", token)
            check("/relations", user, phase, status, 200 if seen else 404)
            if status == 200:
                chunk = [e["event_id"] for e in body["chunk"]]
                check("/relations chunk", user, phase, chunk, [story.children[phase]])
        # /messages: exactly the visible checked events (403 for strangers when hidden)
        status, body = await status_of(hs, f"{V3}/rooms/{room}/messages?dir=b&limit=100", token)
        if user == "eve" and visibility != "world_readable":
            check("/messages", user, "-", status, 403)
        else:
            check("/messages", user, "-", status, 200)
            if status == 200:
                chunk = {e["event_id"] for e in body["chunk"]}
                check("/messages chunk", user, "-", chunk & story.checked(), story.ids(visible))

    # /sync: carol (joined) gets her timeline, bob (left) his leave section up to the leave
    flt = {"room": {"timeline": {"limit": 100}, "include_leave": True}}
    body = await sync(hs, story.tokens["carol"], filter=flt)
    timeline = body["rooms"]["join"][room]["timeline"]["events"]
    got = {e["event_id"] for e in timeline} & story.checked()
    check("/sync join", "carol", "-", got, story.ids(EXPECTED[visibility]["carol"]))
    body = await sync(hs, story.tokens["bob"], filter=flt)
    timeline = body["rooms"]["leave"][room]["timeline"]["events"]
    got = {e["event_id"] for e in timeline} & story.checked()
    want = story.ids(EXPECTED[visibility]["bob"] - {4})  # the leave section ends at the leave
    check("/sync leave", "bob", "-", got, want)
    # dave, invited, has the invite and no timeline
    body = await sync(hs, story.tokens["dave"], filter=flt)
    check("/sync invite", "dave", "-", room in body["rooms"]["invite"], True)
    check("/sync invite", "dave", "-", room in body["rooms"]["join"], False)

    assert not failures, "\n".join(failures)


async def test_setting_at_the_event_decides(hs: Hs) -> None:  # noqa: F811
    """The visibility in force when an event was sent applies, not the current one; a
    change of setting is itself judged by the state before or after it."""
    _, a = await hs.user("alice")
    _, c = await hs.user("carol")
    room = await hs.create_room(a, preset="public_chat")  # shared
    base = f"{V3}/rooms/{room}/send/m.room.message"
    shared = (await hs.ok("PUT", f"{base}/1", {"body": "shared"}, token=a))["event_id"]
    status, change = await hs.put_state(
        a, room, "m.room.history_visibility", {"history_visibility": "joined"}
    )
    assert status == 200
    hidden = (await hs.ok("PUT", f"{base}/2", {"body": "joined only"}, token=a))["event_id"]
    await hs.put_state(a, room, "m.room.history_visibility", {"history_visibility": "shared"})
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=c)
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/event/{shared}", token=c)
    assert status == 200
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/event/{hidden}", token=c)
    assert status == 404
    # the change to "joined" was sent under "shared": carol, who joined later, sees it
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/event/{change['event_id']}", token=c)
    assert status == 200
    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=50", token=c)
    ids = {e["event_id"] for e in page["chunk"]}
    assert shared in ids and change["event_id"] in ids and hidden not in ids
    body = await sync(hs, c, filter={"room": {"timeline": {"limit": 50}}})
    timeline = {e["event_id"] for e in body["rooms"]["join"][room]["timeline"]["events"]}
    assert shared in timeline and hidden not in timeline
