"""Each user's push rules: storage, the ``m.push_rules`` account data, and the compiled
rules the processor evaluates (client-server-api "Push Rules: API", "Push Rules:
Events"; pushrules.yaml).

Theory of operation
-------------------
The ``push_rules`` table holds one :class:`~ranvier.core.push_rules.UserRules` JSON
document per user who changed anything; a user without a row has the server defaults.
A change (:meth:`PushRules.modify`) loads the document in a transaction, applies a pure
mutation, saves it, and writes the rendered ruleset as the user's global
``m.push_rules`` account data in the same transaction, which gives it a position of the
account data stream: the next ``/sync`` of each of the user's clients carries it (the
spec's "When a user changes their push rules a ``m.push_rules`` event is sent to all
clients in the ``account_data`` section of their next /sync"). Users who never changed
a rule have no such row; the sync hook adds the defaults to their initial syncs.

Compiled rules are cached per user (an LRU bounded by ``cache_size``) and dropped on
every change made through this service. Users who changed nothing share one
evaluation per event (:meth:`PushRules.generic`) unless the event names them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import orjson

from ranvier.core.push_eval import GENERIC_USER, CompiledRules, compile_rules
from ranvier.core.push_rules import JsonDict, UserRules, render
from ranvier.db.api import Connection, Database
from ranvier.users.account_data import AccountDataStore

PUSH_RULES_TYPE = "m.push_rules"


class PushRules:
    """Reads, changes and compiles users' push rules (module docstring)."""

    def __init__(
        self,
        db: Database,
        account_data: AccountDataStore,
        cache_size: int = 10_000,
        *,
        legacy_mentions: bool = False,
    ) -> None:
        self.db = db
        self.legacy_mentions = legacy_mentions
        """Serve the v1.16 body-matching mention rules too (see
        :data:`ranvier.core.push_rules.LEGACY_MENTION_RULES`)."""
        self.account_data = account_data
        self.cache_size = cache_size
        self._compiled: OrderedDict[str, CompiledRules] = OrderedDict()
        self._generic: CompiledRules | None = None

    async def load(self, user_id: str) -> UserRules:
        """The user's rules (the defaults only when they changed nothing)."""
        row = await self.db.fetchone("SELECT rules FROM push_rules WHERE user_id = $1", user_id)
        return UserRules() if row is None else UserRules.from_json(orjson.loads(row[0]))

    async def ruleset(self, user_id: str) -> JsonDict:
        """``{"global": {kind: [...]}}`` as ``GET /pushrules/`` returns it."""
        return render(await self.load(user_id), user_id, self.legacy_mentions)

    async def rule(self, user_id: str, kind: str, rule_id: str) -> JsonDict:
        """One rule as clients see it (404 :class:`PushRuleError` when unknown)."""
        return (await self.load(user_id)).get(user_id, kind, rule_id, self.legacy_mentions)

    async def modify(self, user_id: str, change: Callable[[UserRules], None]) -> None:
        """Apply ``change`` (which may raise
        :class:`~ranvier.core.push_rules.PushRuleError`) and save; publishes the new
        ``m.push_rules`` account data."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone("SELECT rules FROM push_rules WHERE user_id = $1", user_id)
            rules = UserRules() if row is None else UserRules.from_json(orjson.loads(row[0]))
            change(rules)
            await self._save(conn, user_id, rules, exists=row is not None)
            position = await self.account_data.put_in(
                conn,
                user_id,
                None,
                PUSH_RULES_TYPE,
                render(rules, user_id, self.legacy_mentions),
            )
        self._compiled.pop(user_id, None)
        await self.account_data.notify(user_id, position)

    @staticmethod
    async def _save(conn: Connection, user_id: str, rules: UserRules, *, exists: bool) -> None:
        doc = orjson.dumps(rules.to_json()).decode()
        if exists:
            await conn.execute("UPDATE push_rules SET rules = $2 WHERE user_id = $1", user_id, doc)
        else:
            await conn.execute(
                "INSERT INTO push_rules (user_id, rules) VALUES ($1, $2)", user_id, doc
            )

    def cached(self, user_id: str) -> CompiledRules | None:
        """The user's compiled rules if cached (no LRU bookkeeping: the hot path)."""
        return self._compiled.get(user_id)

    async def compiled(self, user_id: str) -> CompiledRules:
        """The user's enabled rules, compiled (cached)."""
        found = self._compiled.get(user_id)
        if found is not None:
            self._compiled.move_to_end(user_id)
            return found
        row = await self.db.fetchone("SELECT rules FROM push_rules WHERE user_id = $1", user_id)
        rules = UserRules() if row is None else UserRules.from_json(orjson.loads(row[0]))
        compiled = compile_rules(render(rules, user_id, self.legacy_mentions))
        if not rules.user and not any(rules.defaults.values()):
            compiled = replace(compiled, server_defaults=True)
        self._compiled[user_id] = compiled
        if len(self._compiled) > self.cache_size:
            self._compiled.popitem(last=False)
        return compiled

    def generic(self) -> CompiledRules:
        """The server defaults compiled for a user no event names (see
        :func:`ranvier.core.push_eval.named_users`)."""
        if self._generic is None:
            self._generic = compile_rules(render(UserRules(), GENERIC_USER, self.legacy_mentions))
        return self._generic

    async def copy_room_rules(self, user_id: str, old_room_id: str, new_room_id: str) -> bool:
        """Give ``new_room_id`` copies of the user's rules naming ``old_room_id`` (a room
        rule with that id, override/underride rules matching ``room_id`` exactly) after
        a room upgrade; False when there was nothing to copy."""
        rules = await self.load(user_id)
        if not _has_room_rules(rules, old_room_id):
            return False

        def copy_rules(current: UserRules) -> None:
            _copy_room_rules(current, old_room_id, new_room_id)

        await self.modify(user_id, copy_rules)
        return True

    async def delete_user(self, user_id: str) -> None:
        """Forget a user's rules (account erasure)."""
        await self.db.execute("DELETE FROM push_rules WHERE user_id = $1", user_id)
        self._compiled.pop(user_id, None)


def _names_room(rule: JsonDict, room_id: str) -> bool:
    conditions = rule.get("conditions")
    return isinstance(conditions, list) and any(
        isinstance(c, dict)
        and c.get("kind") == "event_match"
        and c.get("key") == "room_id"
        and c.get("pattern") == room_id
        for c in conditions
    )


def _has_room_rules(rules: UserRules, room_id: str) -> bool:
    if any(r.get("rule_id") == room_id for r in rules.user.get("room", ())):
        return True
    return any(
        _names_room(r, room_id)
        for kind in ("override", "underride")
        for r in rules.user.get(kind, ())
    )


def _copy_room_rules(rules: UserRules, old: str, new: str) -> None:
    room_rules = rules.user.setdefault("room", [])
    for rule in list(room_rules):
        if rule.get("rule_id") == old and not any(r.get("rule_id") == new for r in room_rules):
            copied = dict(rule)
            copied["rule_id"] = new
            room_rules.insert(room_rules.index(rule), copied)
    for kind in ("override", "underride"):
        kind_rules = rules.user.get(kind, [])
        for rule in list(kind_rules):
            if not _names_room(rule, old):
                continue
            new_id = f"{rule.get('rule_id')}-{new}"
            if any(r.get("rule_id") == new_id for r in kind_rules):
                continue
            copied = orjson.loads(orjson.dumps(rule))
            copied["rule_id"] = new_id
            for cond in copied["conditions"]:
                if isinstance(cond, dict) and cond.get("key") == "room_id":
                    cond["pattern"] = new
            kind_rules.insert(kind_rules.index(rule), copied)
