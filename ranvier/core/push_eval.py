"""Push rule evaluation, pure: does a rule match an event, and with which actions
(client-server-api "Push Notifications": "Conditions", "Actions"; appendices
"Glob-style matching", "Dot-separated property paths").

Theory of operation
-------------------
:func:`compile_rules` turns a rendered ruleset (``{"global": {kind: [...]}}``, see
:mod:`ranvier.core.push_rules`) into a :class:`CompiledRules`: the enabled rules in
the order they are checked, each as a tuple of condition predicates and its actions.
Room and sender rules become one exact-match predicate on ``room_id``/``sender``;
content rules a word-boundary glob on ``content.body``. Globs compile to regular
expressions once (cached), so evaluating an event for N users costs N walks of
short predicate lists. :meth:`CompiledRules.evaluate` returns the actions of the
first matching rule (historical actions stripped), or None when nothing matches.

What the predicates need beyond the event comes in :class:`RoomFacts`: the room's
joined member count, the sender's power level and the levels ``notifications``
requires (``sender_notification_permission``), and the recipient's display name
(``contains_display_name``, deprecated since v1.17 but still a condition).

Matching rules, from the spec: ``event_match`` is a case-insensitive glob on the whole
string value (a missing or non-string value never matches, even ``*``), except on
``content.body`` where the glob may match any substring bounded by word boundaries
(start/end, or a character outside ``[A-Za-z0-9_]``); ``event_property_is`` is an
exact match on a string, integer, boolean or null (no casting: ``1`` is not
``true``); ``event_property_contains`` looks for such a value in an array;
``room_member_count`` compares with ``==``, ``<``, ``>``, ``<=``, ``>=`` (``==`` when
no prefix). An unknown condition kind never matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ranvier.core.property_paths import split_path
from ranvier.core.push_rules import HISTORICAL_ACTIONS, KINDS, LEGACY_MENTION_RULES

JsonDict = dict[str, Any]

_MISSING = object()
_WORD = "A-Za-z0-9_"


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What conditions need besides the event, for one recipient."""

    member_count: int = 0
    sender_power: float = 0
    """The sender's power level (``inf`` for a v12 room creator)."""
    notification_levels: Mapping[str, int] = field(default_factory=dict)
    """Power needed per ``notifications`` key (``room`` defaults to 50)."""
    display_name: str | None = None
    """The recipient's display name in the room."""


Predicate = Callable[[JsonDict, RoomFacts], bool]


# ---- paths and globs ----------------------------------------------------------------


def lookup(event: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in ``event``, or :data:`_MISSING`."""
    value: Any = event
    for part in path:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _glob_body(pattern: str) -> str:
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, word_boundary: bool = False) -> re.Pattern[str]:
    """The compiled regex of a glob: the whole value, or (``word_boundary``) any
    substring starting and ending at a word boundary. Case-insensitive."""
    body = _glob_body(pattern)
    if word_boundary:
        return re.compile(f"(?<![{_WORD}])(?:{body})(?![{_WORD}])", re.IGNORECASE | re.DOTALL)
    return re.compile(f"(?:{body})\\Z", re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, value: str, word_boundary: bool = False) -> bool:
    """Whether ``value`` matches the glob ``pattern`` (see :func:`glob_regex`)."""
    regex = glob_regex(pattern, word_boundary)
    if word_boundary:
        return regex.search(value) is not None
    return regex.match(value) is not None


# ---- conditions ---------------------------------------------------------------------

_MAX_SAFE = 2**53 - 1


def _simple(value: Any) -> bool:
    """A non-compound canonical JSON value: string, bool, null or a safe integer."""
    if value is None or isinstance(value, str | bool):
        return True
    return isinstance(value, int) and -_MAX_SAFE <= value <= _MAX_SAFE


def _same(a: Any, b: Any) -> bool:
    """Exact equality without casting (``True`` is not ``1``)."""
    return type(a) is type(b) and a == b


def _never(event: JsonDict, facts: RoomFacts) -> bool:
    return False


_COUNT_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def parse_member_count(spec: str) -> tuple[Callable[[int, int], bool], int] | None:
    """``"<=10"`` -> (operator, 10); None when malformed."""
    for prefix in ("==", "<=", ">=", "<", ">"):
        if spec.startswith(prefix):
            rest, op = spec[len(prefix) :], _COUNT_OPS[prefix]
            break
    else:
        rest, op = spec, _COUNT_OPS["=="]
    if not rest.isdigit():
        return None
    return op, int(rest)


def compile_condition(cond: Mapping[str, Any]) -> Predicate:
    """One condition as a predicate (unknown or malformed conditions never match)."""
    kind = cond.get("kind")
    key = cond.get("key")
    if kind == "event_match":
        pattern = cond.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return _never
        return event_match(key, pattern)
    if kind == "event_property_is":
        value = cond.get("value", _MISSING)
        if not isinstance(key, str) or not _simple(value):
            return _never
        path = split_path(key)

        def prop_is(event: JsonDict, facts: RoomFacts) -> bool:
            found = lookup(event, path)
            return found is not _MISSING and _simple(found) and _same(found, value)

        return prop_is
    if kind == "event_property_contains":
        value = cond.get("value", _MISSING)
        if not isinstance(key, str) or not _simple(value):
            return _never
        path = split_path(key)

        def prop_contains(event: JsonDict, facts: RoomFacts) -> bool:
            found = lookup(event, path)
            if not isinstance(found, list):
                return False
            return any(_simple(item) and _same(item, value) for item in found)

        return prop_contains
    if kind == "contains_display_name":
        return contains_display_name
    if kind == "room_member_count":
        spec = cond.get("is")
        parsed = parse_member_count(spec) if isinstance(spec, str) else None
        if parsed is None:
            return _never
        op, number = parsed

        def member_count(event: JsonDict, facts: RoomFacts) -> bool:
            return op(facts.member_count, number)

        return member_count
    if kind == "sender_notification_permission":
        if not isinstance(key, str):
            return _never

        def permission(event: JsonDict, facts: RoomFacts) -> bool:
            needed = facts.notification_levels.get(key, 50)
            return facts.sender_power >= needed

        return permission
    return _never


def event_match(key: str, pattern: str) -> Predicate:
    """The ``event_match`` predicate (``content.body`` matches on word boundaries)."""
    path = split_path(key)
    regex = glob_regex(pattern, key == "content.body")
    if key == "content.body":

        def body_match(event: JsonDict, facts: RoomFacts) -> bool:
            found = lookup(event, path)
            return isinstance(found, str) and regex.search(found) is not None

        return body_match
    if "*" not in pattern and "?" not in pattern:
        # Exact (case-insensitive) comparison: the common case of the default rules.
        folded = pattern.casefold()
        top = path[0] if len(path) == 1 else None

        def exact(event: JsonDict, facts: RoomFacts) -> bool:
            found = event.get(top, _MISSING) if top is not None else lookup(event, path)
            return isinstance(found, str) and (found == pattern or found.casefold() == folded)

        return exact

    def glob(event: JsonDict, facts: RoomFacts) -> bool:
        found = lookup(event, path)
        return isinstance(found, str) and regex.match(found) is not None

    return glob


def contains_display_name(event: JsonDict, facts: RoomFacts) -> bool:
    """``content.body`` contains the recipient's display name (whole words)."""
    name = facts.display_name
    if not name:
        return False
    body = lookup(event, ("content", "body"))
    if not isinstance(body, str):
        return False
    regex = re.compile(f"(?<![{_WORD}]){re.escape(name)}(?![{_WORD}])", re.IGNORECASE | re.DOTALL)
    return regex.search(body) is not None


# ---- rulesets -----------------------------------------------------------------------


def effective_actions(actions: Sequence[Any]) -> list[Any]:
    """``actions`` without the historical ``dont_notify``/``coalesce``."""
    return [a for a in actions if not (isinstance(a, str) and a in HISTORICAL_ACTIONS)]


def notifies(actions: Sequence[Any]) -> bool:
    """Whether ``actions`` contain ``notify``."""
    return "notify" in actions


def tweaks(actions: Sequence[Any]) -> JsonDict:
    """The tweaks the ``set_tweak`` actions set (``highlight`` without a value is true)."""
    out: JsonDict = {}
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            name = action["set_tweak"]
            out[name] = action.get("value", True if name == "highlight" else None)
    return out


def highlights(actions: Sequence[Any]) -> bool:
    """Whether ``actions`` set the ``highlight`` tweak to true."""
    return tweaks(actions).get("highlight") is True


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """An enabled rule ready to evaluate."""

    kind: str
    rule_id: str
    predicates: tuple[Predicate, ...]
    actions: tuple[Any, ...]
    legacy_mention: bool = False
    """A legacy mention rule: skipped for events with ``m.mentions`` (MSC3952)."""


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """A user's enabled rules, in the order they are checked."""

    rules: tuple[CompiledRule, ...]
    uses_display_name: bool = False
    server_defaults: bool = False
    """Set by the caller when these are the server defaults, unchanged: such users
    can share one evaluation per event (:func:`named_users`)."""

    def evaluate(self, event: JsonDict, facts: RoomFacts) -> list[Any] | None:
        """The effective actions of the first matching rule, or None."""
        rule = self.matching_rule(event, facts)
        return None if rule is None else list(rule.actions)

    def matching_rule(self, event: JsonDict, facts: RoomFacts) -> CompiledRule | None:
        """The first matching rule, or None."""
        content = event.get("content")
        mentions = isinstance(content, dict) and "m.mentions" in content
        for rule in self.rules:
            if mentions and rule.legacy_mention:
                continue
            for predicate in rule.predicates:
                if not predicate(event, facts):
                    break
            else:
                return rule
        return None


def _field_equals(name: str, value: str) -> Predicate:
    def check(event: JsonDict, facts: RoomFacts) -> bool:
        return event.get(name) == value

    return check


def compile_rules(ruleset: Mapping[str, Any]) -> CompiledRules:
    """Compile a rendered ruleset (``{"global": {...}}`` or its ``global`` value)."""
    scope = ruleset.get("global", ruleset)
    compiled: list[CompiledRule] = []
    uses_display_name = False
    for kind in KINDS:
        for rule in scope.get(kind, ()) if isinstance(scope, dict) else ():
            if not isinstance(rule, dict) or not rule.get("enabled", True):
                continue
            rule_id = rule.get("rule_id")
            actions = rule.get("actions")
            if not isinstance(rule_id, str) or not isinstance(actions, list):
                continue
            predicates: tuple[Predicate, ...]
            if kind in ("override", "underride"):
                conditions = rule.get("conditions", [])
                if not isinstance(conditions, list):
                    continue
                predicates = tuple(
                    compile_condition(c) if isinstance(c, dict) else _never for c in conditions
                )
                uses_display_name = uses_display_name or any(
                    isinstance(c, dict) and c.get("kind") == "contains_display_name"
                    for c in conditions
                )
            elif kind == "content":
                pattern = rule.get("pattern")
                if not isinstance(pattern, str):
                    continue
                predicates = (event_match("content.body", pattern),)
            elif kind == "room":
                predicates = (_field_equals("room_id", rule_id),)
            else:
                predicates = (_field_equals("sender", rule_id),)
            compiled.append(
                CompiledRule(
                    kind,
                    rule_id,
                    predicates,
                    tuple(effective_actions(actions)),
                    rule_id in LEGACY_MENTION_RULES and bool(rule.get("default")),
                )
            )
    return CompiledRules(tuple(compiled), uses_display_name)


def named_users(event: JsonDict) -> frozenset[str]:
    """The users the server-default rules could treat differently from a user the
    event does not name (legacy mention rules aside): the ``state_key``
    (``.m.rule.invite_for_me``) and ``content.m.mentions.user_ids``
    (``.m.rule.is_user_mention``). Computed once per event."""
    out: set[str] = set()
    state_key = event.get("state_key")
    if isinstance(state_key, str):
        out.add(state_key)
    content = event.get("content")
    mentions = content.get("m.mentions") if isinstance(content, dict) else None
    ids = mentions.get("user_ids") if isinstance(mentions, dict) else None
    if isinstance(ids, list):
        out.update(i for i in ids if isinstance(i, str))
    return frozenset(out)


def has_body(event: JsonDict) -> bool:
    """Whether the legacy mention rules could match: a string ``content.body`` and no
    ``content.m.mentions``."""
    content = event.get("content")
    return (
        isinstance(content, dict)
        and isinstance(content.get("body"), str)
        and "m.mentions" not in content
    )


GENERIC_USER = "@\x00:\x00"
"""A user id no event can name (NUL is not allowed in user ids): the server-default
rules evaluated for it give the actions of every default-rules user not in
:func:`named_users` (when the legacy mention rules cannot match: :func:`has_body`)."""
