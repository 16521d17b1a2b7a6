"""The end-to-end test of issue 4, with a real client library: two matrix-nio clients,
each long-polling ``/sync`` in the background, create a room, invite, join, exchange 100
messages (each reply sent only once the sender has seen the previous message through
its sync), edit, redact, react, type and send read receipts; each sees exactly the
other's events, in order, once each. Runs on SQLite and PostgreSQL.

Spec: client-server-api "Syncing", "Room membership", "Sending events to a room",
"Redactions", event_replacements, event_annotations, "Typing Notifications",
"Receipts".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import nio

from tests.api.test_directory_fixtures import Hs, hs  # noqa: F401

MESSAGES = 100
WAIT = 15.0
"""Seconds a client waits to see something through its sync before the test fails."""


class Watcher:
    """One client's background long-poll: every timeline event and ephemeral event of
    every joined room, in the order its syncs returned them."""

    def __init__(self, client: nio.AsyncClient) -> None:
        self.client = client
        self.timeline: list[tuple[str, nio.Event]] = []
        self.ephemeral: list[tuple[str, Any]] = []
        self.invites: list[str] = []
        self.syncs = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            response = await self.client.sync(timeout=30_000)
            assert isinstance(response, nio.SyncResponse), response
            async with self._changed:
                self.syncs += 1
                self.invites.extend(response.rooms.invite)
                for room_id, room in response.rooms.join.items():
                    self.timeline.extend((room_id, e) for e in room.timeline.events)
                    self.ephemeral.extend((room_id, e) for e in room.ephemeral)
                self._changed.notify_all()

    async def wait_for(self, what: str, found: Callable[[], Any]) -> Any:
        """Wait until ``found()`` is truthy (re-checked after each sync); return it."""

        async def until() -> Any:
            async with self._changed:
                while not (result := found()):
                    await self._changed.wait()
                return result

        try:
            return await asyncio.wait_for(until(), WAIT)
        except TimeoutError:
            raise AssertionError(f"{self.client.user_id} never saw {what}") from None

    def seen(self, event_id: str) -> bool:
        return any(e.event_id == event_id for _, e in self.timeline)

    def from_sender(self, room_id: str, sender: str) -> list[nio.Event]:
        return [e for r, e in self.timeline if r == room_id and e.sender == sender]


async def sent_id(response: Any) -> str:
    assert isinstance(response, nio.RoomSendResponse), response
    return str(response.event_id)


async def test_two_nio_clients_converse(hs: Hs) -> None:  # noqa: F811
    alice = nio.AsyncClient(hs.base, "alice")
    bob = nio.AsyncClient(hs.base, "bob")
    watchers: list[Watcher] = []
    try:
        assert isinstance(await alice.register("alice", "pw-alice"), nio.RegisterResponse)
        assert isinstance(await bob.register("bob", "pw-bob"), nio.RegisterResponse)
        wa, wb = Watcher(alice), Watcher(bob)
        watchers += [wa, wb]
        wa.start()
        wb.start()

        # create, invite, join: each step seen through the other's long-poll
        created = await alice.room_create(name="chat", invite=[bob.user_id])
        assert isinstance(created, nio.RoomCreateResponse), created
        room = created.room_id
        await wb.wait_for("the invite", lambda: room in wb.invites)
        assert isinstance(await bob.join(room), nio.JoinResponse)
        join = await wa.wait_for(
            "bob's join",
            lambda: [
                e
                for e in wa.from_sender(room, bob.user_id)
                if isinstance(e, nio.RoomMemberEvent) and e.membership == "join"
            ],
        )
        await wb.wait_for("his own join", lambda: wb.seen(join[0].event_id))
        bob_from = len(wb.from_sender(room, alice.user_id))  # alice's history before

        # 100 messages, each sent once the sender saw the previous one
        sent: dict[str, list[str]] = {alice.user_id: [], bob.user_id: []}
        clients = ((alice, wa), (bob, wb))
        started = time.perf_counter()
        previous: str | None = None
        for i in range(MESSAGES):
            client, watcher = clients[i % 2]
            if previous is not None:
                await watcher.wait_for(
                    f"message {i - 1}", lambda w=watcher, last=previous: w.seen(last)
                )
            content = {"msgtype": "m.text", "body": f"message {i} from {client.user}"}
            previous = await sent_id(await client.room_send(room, "m.room.message", content))
            sent[client.user_id].append(previous)
        assert previous is not None
        last_message = previous
        await wa.wait_for("the last message", lambda: wa.seen(last_message))
        await wb.wait_for("the last message", lambda: wb.seen(last_message))
        per_message_ms = (time.perf_counter() - started) * 1000 / MESSAGES

        # alice edits her first message, bob redacts his first, alice reacts to bob's last
        first_alice, first_bob = sent[alice.user_id][0], sent[bob.user_id][0]
        last_bob = sent[bob.user_id][-1]
        edit = await sent_id(
            await alice.room_send(
                room,
                "m.room.message",
                {
                    "msgtype": "m.text",
                    "body": "* edited",
                    "m.new_content": {"msgtype": "m.text", "body": "edited"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": first_alice},
                },
            )
        )
        sent[alice.user_id].append(edit)
        redaction = await bob.room_redact(room, first_bob, reason="oops")
        assert isinstance(redaction, nio.RoomRedactResponse), redaction
        sent[bob.user_id].append(redaction.event_id)
        reaction = await sent_id(
            await alice.room_send(
                room,
                "m.reaction",
                {"m.relates_to": {"rel_type": "m.annotation", "event_id": last_bob, "key": "👍"}},
            )
        )
        sent[alice.user_id].append(reaction)

        seen_edit = await wb.wait_for(
            "the edit", lambda: [e for _, e in wb.timeline if e.event_id == edit]
        )
        relates = seen_edit[0].source["content"]["m.relates_to"]
        assert relates == {"rel_type": "m.replace", "event_id": first_alice}
        seen_redaction = await wa.wait_for(
            "the redaction",
            lambda: [e for _, e in wa.timeline if isinstance(e, nio.RedactionEvent)],
        )
        assert seen_redaction[0].redacts == first_bob and seen_redaction[0].reason == "oops"
        seen_reaction = await wb.wait_for(
            "the reaction",
            lambda: [e for _, e in wb.timeline if isinstance(e, nio.ReactionEvent)],
        )
        assert (seen_reaction[0].reacts_to, seen_reaction[0].key) == (last_bob, "👍")

        # typing: bob starts and stops; alice sees both through her sync
        def typing(users: list[str]) -> Callable[[], bool]:
            return lambda: any(
                isinstance(e, nio.TypingNoticeEvent) and r == room and e.users == users
                for r, e in wa.ephemeral
            )

        assert isinstance(await bob.room_typing(room, True, 30_000), nio.RoomTypingResponse)
        await wa.wait_for("bob typing", typing([bob.user_id]))
        typed_at = len(wa.ephemeral)
        assert isinstance(await bob.room_typing(room, False), nio.RoomTypingResponse)
        await wa.wait_for(
            "bob stop typing",
            lambda: any(
                isinstance(e, nio.TypingNoticeEvent) and e.users == []
                for _, e in wa.ephemeral[typed_at:]
            ),
        )

        # receipts: alice reads bob's last message, bob reads alice's reaction
        answer = await alice.update_receipt_marker(room, last_bob)
        assert isinstance(answer, nio.UpdateReceiptMarkerResponse), answer
        answer = await bob.update_receipt_marker(room, reaction)
        assert isinstance(answer, nio.UpdateReceiptMarkerResponse), answer

        def receipt(w: Watcher, user: str, event_id: str) -> Callable[[], bool]:
            return lambda: any(
                isinstance(e, nio.ReceiptEvent)
                and any(
                    (x.user_id, x.event_id, x.receipt_type) == (user, event_id, "m.read")
                    for x in e.receipts
                )
                for _, e in w.ephemeral
            )

        await wb.wait_for("alice's receipt", receipt(wb, alice.user_id, last_bob))
        await wa.wait_for("bob's receipt", receipt(wa, bob.user_id, reaction))

        # Each saw exactly the other's events: all of them, once each, in order.
        alice_seen_from_bob = [e.event_id for e in wa.from_sender(room, bob.user_id)]
        assert alice_seen_from_bob == [join[0].event_id, *sent[bob.user_id]]
        bob_seen_from_alice = [e.event_id for e in wb.from_sender(room, alice.user_id)]
        assert bob_seen_from_alice[bob_from:] == sent[alice.user_id]
        for w in watchers:
            ids = [e.event_id for _, e in w.timeline]
            assert len(ids) == len(set(ids)), "an event came twice"
        # own events came back with their transaction ids (nio matched them)
        own = [e for e in wa.from_sender(room, alice.user_id) if e.event_id == edit]
        assert own and own[0].transaction_id is not None

        # bob's redacted message is served redacted; the edit is bundled
        page = await alice.room_messages(room, start="", limit=MESSAGES + 20)
        assert isinstance(page, nio.RoomMessagesResponse), page
        by_id = {e.event_id: e for e in page.chunk}
        assert isinstance(by_id[first_bob], nio.RedactedEvent)
        bundled = by_id[first_alice].source["unsigned"]["m.relations"]["m.replace"]
        assert bundled["event_id"] == edit
        print(f"\nping-pong over long-poll /sync: {per_message_ms:.1f} ms per message")
    finally:
        for w in watchers:
            await w.stop()
        await alice.close()
        await bob.close()
