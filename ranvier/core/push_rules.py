"""Push rules as data: the server-default rules, a user's changes to them, validation
of rule bodies, and the ruleset clients see (client-server-api "Push Notifications":
"Push Rules", "Predefined Rules", "Push Rules: API"; pushrules.yaml).

Theory of operation
-------------------
A user's rules are held as :class:`UserRules`: the user-defined rules of each kind in
priority order (most important first), and per server-default rule only what the
user changed (``enabled`` and/or ``actions``). :func:`render` merges them with
:func:`server_default_rules` into the ``{"global": {kind: [rule, ...]}}`` object that
``GET /pushrules/`` returns and the ``m.push_rules`` account data carries. Within a
kind user-defined rules come before the server-default ones, except
``.m.rule.master``, which stays the first override rule (the spec: "this one has
always a higher priority than other rules, even user defined ones").

Mutations (:meth:`UserRules.put`, :meth:`UserRules.delete`,
:meth:`UserRules.set_enabled`, :meth:`UserRules.set_actions`) are pure and raise
:class:`PushRuleError` carrying the HTTP status and Matrix error code the API
returns, so the service above only loads, mutates and saves. Actions are kept
exactly as the client gave them (historical ``dont_notify``/``coalesce`` included, so
``GET .../actions`` echoes them); evaluation ignores the historical ones.

The v1.19 defaults have no content rules: the legacy body-matching rules
(``.m.rule.contains_user_name``, ``.m.rule.contains_display_name``,
``.m.rule.roomnotif``) were removed in v1.17 in favour of ``m.mentions``. A server
may still serve them (``legacy``, configured by ``client_api.push_legacy_mention_rules``),
as Synapse does; they then apply only to events without ``m.mentions``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

KINDS = ("override", "content", "room", "sender", "underride")
"""The rule kinds in the order they are checked."""

MASTER = ".m.rule.master"
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})
"""Actions of older spec versions: accepted and stored, ignored when evaluating."""

CONDITION_KINDS = frozenset(
    {
        "event_match",
        "event_property_is",
        "event_property_contains",
        "contains_display_name",
        "room_member_count",
        "sender_notification_permission",
    }
)


class PushRuleError(ValueError):
    """A request the push rules API must refuse, with its HTTP status and errcode."""

    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = errcode


def _match(key: str, pattern: str) -> JsonDict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _rule(rule_id: str, conditions: list[JsonDict], actions: list[Any]) -> JsonDict:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": True,
        "conditions": conditions,
        "actions": actions,
    }


_SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}


LEGACY_MENTION_RULES = frozenset(
    {".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"}
)
"""The body-matching mention rules removed in v1.17 (MSC4142), still served by
Synapse and expected by Sytest; they never match an event with ``m.mentions``
(MSC3952)."""


def _legacy_rules(user_id: str) -> dict[str, JsonDict]:
    localpart = user_id[1:].split(":", 1)[0]
    contains_user_name = {
        "rule_id": ".m.rule.contains_user_name",
        "default": True,
        "enabled": True,
        "pattern": localpart,
        "actions": ["notify", dict(_SOUND_DEFAULT), dict(_HIGHLIGHT)],
    }
    return {
        ".m.rule.contains_display_name": _rule(
            ".m.rule.contains_display_name",
            [{"kind": "contains_display_name"}],
            ["notify", dict(_SOUND_DEFAULT), dict(_HIGHLIGHT)],
        ),
        ".m.rule.roomnotif": _rule(
            ".m.rule.roomnotif",
            [
                _match("content.body", "@room"),
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", dict(_HIGHLIGHT)],
        ),
        ".m.rule.contains_user_name": contains_user_name,
    }


def server_default_rules(user_id: str, legacy: bool = False) -> dict[str, list[JsonDict]]:
    """The server-default rules of v1.19 for ``user_id``, per kind, in spec order
    ("Default Override Rules", "Default Underride Rules"). Fresh objects each call.

    ``legacy`` adds the v1.16 body-matching mention rules (:data:`LEGACY_MENTION_RULES`)
    where v1.16 had them: ``.m.rule.contains_display_name`` after
    ``.m.rule.is_user_mention``, ``.m.rule.roomnotif`` after ``.m.rule.is_room_mention``
    and the content rule ``.m.rule.contains_user_name``."""
    master = _rule(MASTER, [], [])
    master["enabled"] = False
    override = [
        master,
        _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [
                _match("type", "m.room.member"),
                _match("content.membership", "invite"),
                _match("state_key", user_id),
            ],
            ["notify", dict(_SOUND_DEFAULT)],
        ),
        _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            [
                {
                    "kind": "event_property_contains",
                    "key": "content.m\\.mentions.user_ids",
                    "value": user_id,
                }
            ],
            ["notify", dict(_SOUND_DEFAULT), dict(_HIGHLIGHT)],
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", dict(_HIGHLIGHT)],
        ),
        _rule(
            ".m.rule.tombstone",
            [_match("type", "m.room.tombstone"), _match("state_key", "")],
            ["notify", dict(_HIGHLIGHT)],
        ),
        _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
        _rule(
            ".m.rule.room.server_acl",
            [_match("type", "m.room.server_acl"), _match("state_key", "")],
            [],
        ),
        _rule(
            ".m.rule.suppress_edits",
            [
                {
                    "kind": "event_property_is",
                    "key": "content.m\\.relates_to.rel_type",
                    "value": "m.replace",
                }
            ],
            [],
        ),
    ]
    underride = [
        _rule(
            ".m.rule.call",
            [_match("type", "m.call.invite")],
            ["notify", {"set_tweak": "sound", "value": "ring"}],
        ),
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
            ["notify", dict(_SOUND_DEFAULT)],
        ),
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
            ["notify", dict(_SOUND_DEFAULT)],
        ),
        _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
        _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
    ]
    content: list[JsonDict] = []
    if legacy:
        extra = _legacy_rules(user_id)
        ids = [r["rule_id"] for r in override]
        override.insert(
            ids.index(".m.rule.is_user_mention") + 1, extra[".m.rule.contains_display_name"]
        )
        ids = [r["rule_id"] for r in override]
        override.insert(ids.index(".m.rule.is_room_mention") + 1, extra[".m.rule.roomnotif"])
        content.append(extra[".m.rule.contains_user_name"])
    return {
        "override": override,
        "content": content,
        "room": [],
        "sender": [],
        "underride": underride,
    }


_DEFAULT_KIND: dict[str, str] = {
    rule["rule_id"]: kind
    for kind, rules in server_default_rules("@x:x", legacy=True).items()
    for rule in rules
}
"""``rule_id -> kind`` of every server-default rule."""


def is_default_rule(kind: str, rule_id: str) -> bool:
    """Whether ``rule_id`` names a server-default rule of ``kind``."""
    return _DEFAULT_KIND.get(rule_id) == kind


# ---- validation ---------------------------------------------------------------------


def check_kind(kind: str) -> None:
    """400 ``M_INVALID_PARAM`` for an unknown rule kind."""
    if kind not in KINDS:
        raise PushRuleError(400, "M_INVALID_PARAM", f"Unknown push rule kind {kind!r}")


def check_actions(actions: Any) -> list[Any]:
    """The ``actions`` array, or 400 ``M_INVALID_PARAM``: each action is ``notify``, a
    historical action, or ``{"set_tweak": name, "value"?: ...}``."""
    if not isinstance(actions, list):
        raise PushRuleError(400, "M_INVALID_PARAM", "'actions' must be an array")
    for action in actions:
        if isinstance(action, str):
            if action != "notify" and action not in HISTORICAL_ACTIONS:
                raise PushRuleError(400, "M_INVALID_PARAM", f"Unknown action {action!r}")
        elif isinstance(action, dict):
            if not isinstance(action.get("set_tweak"), str):
                raise PushRuleError(400, "M_INVALID_PARAM", f"Unknown action {action!r}")
        else:
            raise PushRuleError(400, "M_INVALID_PARAM", "Actions are strings or objects")
    return list(actions)


def check_conditions(conditions: Any) -> list[JsonDict]:
    """The ``conditions`` array, or 400 ``M_INVALID_PARAM`` (each a JSON object with a
    string ``kind``; parameters of known kinds type-checked). Unknown kinds are kept:
    the spec makes them never match."""
    if not isinstance(conditions, list):
        raise PushRuleError(400, "M_INVALID_PARAM", "'conditions' must be an array")
    for cond in conditions:
        if not isinstance(cond, dict) or not isinstance(cond.get("kind"), str):
            raise PushRuleError(400, "M_INVALID_PARAM", "Each condition needs a 'kind'")
        kind = cond["kind"]
        needs: tuple[str, ...] = ()
        if kind == "event_match":
            needs = ("key", "pattern")
        elif kind in ("event_property_is", "event_property_contains"):
            needs = ("key",)
            if "value" not in cond:
                raise PushRuleError(400, "M_INVALID_PARAM", f"{kind} needs a 'value'")
        elif kind == "room_member_count":
            needs = ("is",)
        elif kind == "sender_notification_permission":
            needs = ("key",)
        for name in needs:
            if not isinstance(cond.get(name), str):
                raise PushRuleError(400, "M_INVALID_PARAM", f"{kind} needs a string {name!r}")
    return [dict(c) for c in conditions]


def check_rule_id(rule_id: str) -> None:
    """400 for an empty id or one with a slash or backslash (pushrules.yaml)."""
    if not rule_id or "/" in rule_id or "\\" in rule_id:
        raise PushRuleError(400, "M_INVALID_PARAM", "Invalid rule_id")


def new_rule(kind: str, rule_id: str, body: JsonDict) -> JsonDict:
    """A user-defined rule of ``kind`` from a ``PUT`` body, validated."""
    check_kind(kind)
    check_rule_id(rule_id)
    if rule_id.startswith("."):
        raise PushRuleError(400, "M_INVALID_PARAM", "Rule ids starting with '.' are reserved")
    if "actions" not in body:
        raise PushRuleError(400, "M_MISSING_PARAM", "'actions' is required")
    rule: JsonDict = {"rule_id": rule_id, "actions": check_actions(body["actions"])}
    if kind in ("override", "underride"):
        if "conditions" not in body:
            raise PushRuleError(400, "M_MISSING_PARAM", f"{kind} rules need 'conditions'")
        rule["conditions"] = check_conditions(body["conditions"])
    elif kind == "content":
        pattern = body.get("pattern")
        if not isinstance(pattern, str):
            raise PushRuleError(400, "M_MISSING_PARAM", "content rules need a 'pattern'")
        rule["pattern"] = pattern
    rule["enabled"] = True
    return rule


# ---- a user's rules -----------------------------------------------------------------


@dataclass(slots=True)
class UserRules:
    """A user's rules: their own per kind (most important first) and their changes to
    server-default rules (``{rule_id: {"enabled"?: bool, "actions"?: [...]}}``)."""

    user: dict[str, list[JsonDict]] = field(default_factory=dict)
    defaults: dict[str, JsonDict] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: JsonDict) -> UserRules:
        """Load what :meth:`to_json` produced."""
        user = data.get("user")
        defaults = data.get("defaults")
        return cls(
            {k: list(v) for k, v in user.items()} if isinstance(user, dict) else {},
            dict(defaults) if isinstance(defaults, dict) else {},
        )

    def to_json(self) -> JsonDict:
        """The stored form."""
        return {"user": self.user, "defaults": self.defaults}

    def _index(self, kind: str, rule_id: str) -> int | None:
        for i, rule in enumerate(self.user.get(kind, ())):
            if rule.get("rule_id") == rule_id:
                return i
        return None

    def get(self, user_id: str, kind: str, rule_id: str, legacy: bool = False) -> JsonDict:
        """One rule as clients see it, or 404 ``M_NOT_FOUND``."""
        check_kind(kind)
        for rule in render(self, user_id, legacy)["global"][kind]:
            if rule["rule_id"] == rule_id:
                return dict(rule)
        raise PushRuleError(404, "M_NOT_FOUND", "Unknown push rule")

    def put(
        self, kind: str, rule_id: str, body: JsonDict, before: str | None, after: str | None
    ) -> None:
        """Create or replace a user-defined rule, placed by ``before``/``after``
        (new rules go first when neither is given; a replaced rule keeps its place).
        Server-default rules cannot be replaced (400); an unknown ``before``/``after``
        rule is 400 ``M_UNKNOWN``, as pushrules.yaml's example shows."""
        check_kind(kind)
        check_rule_id(rule_id)
        if rule_id.startswith("."):
            if is_default_rule(kind, rule_id):
                raise PushRuleError(
                    400, "M_INVALID_PARAM", "Cannot change the body of a server-default rule"
                )
            raise PushRuleError(400, "M_INVALID_PARAM", "Rule ids starting with '.' are reserved")
        rule = new_rule(kind, rule_id, body)
        rules = self.user.setdefault(kind, [])
        existing = self._index(kind, rule_id)
        if existing is not None and before is None and after is None:
            rules[existing] = rule
            return
        anchor = before if before is not None else after
        if anchor is not None and (anchor == rule_id or self._index(kind, anchor) is None):
            raise PushRuleError(400, "M_UNKNOWN", f"before/after rule not found: {anchor}")
        if existing is not None:
            del rules[existing]
        if anchor is None:
            rules.insert(0, rule)
            return
        at = self._index(kind, anchor)
        assert at is not None
        rules.insert(at if before is not None else at + 1, rule)

    def delete(self, kind: str, rule_id: str) -> None:
        """Delete a user-defined rule (404 if unknown; 400 for a server-default one)."""
        check_kind(kind)
        if is_default_rule(kind, rule_id):
            raise PushRuleError(400, "M_INVALID_PARAM", "Cannot delete a server-default rule")
        at = self._index(kind, rule_id)
        if at is None:
            raise PushRuleError(404, "M_NOT_FOUND", "Unknown push rule")
        del self.user[kind][at]

    def _target(self, kind: str, rule_id: str) -> JsonDict:
        check_kind(kind)
        if is_default_rule(kind, rule_id):
            return self.defaults.setdefault(rule_id, {})
        at = self._index(kind, rule_id)
        if at is None:
            raise PushRuleError(404, "M_NOT_FOUND", "Unknown push rule")
        return self.user[kind][at]

    def set_enabled(self, kind: str, rule_id: str, enabled: Any) -> None:
        """``PUT .../enabled``: a boolean (400 ``M_INVALID_PARAM`` otherwise)."""
        if not isinstance(enabled, bool):
            raise PushRuleError(400, "M_INVALID_PARAM", "'enabled' must be a boolean")
        self._target(kind, rule_id)["enabled"] = enabled

    def set_actions(self, kind: str, rule_id: str, actions: Any) -> None:
        """``PUT .../actions`` (allowed on server-default rules too)."""
        checked = check_actions(actions)
        self._target(kind, rule_id)["actions"] = checked


def render(rules: UserRules, user_id: str, legacy: bool = False) -> JsonDict:
    """``{"global": {kind: [rule, ...]}}`` with every rule's ``default`` and
    ``enabled`` set (the ``m.push_rules`` content and ``GET /pushrules/``);
    ``legacy``: with the legacy mention rules."""
    defaults = server_default_rules(user_id, legacy)
    out: dict[str, list[JsonDict]] = {}
    for kind in KINDS:
        merged: list[JsonDict] = []
        for rule in defaults[kind]:
            change = rules.defaults.get(rule["rule_id"])
            if change:
                if isinstance(change.get("enabled"), bool):
                    rule["enabled"] = change["enabled"]
                if isinstance(change.get("actions"), list):
                    rule["actions"] = copy.deepcopy(change["actions"])
        own = []
        for rule in rules.user.get(kind, ()):
            shown = copy.deepcopy(rule)
            shown["default"] = False
            shown.setdefault("enabled", True)
            own.append(shown)
        if kind == "override":
            merged = [defaults[kind][0], *own, *defaults[kind][1:]]
        else:
            merged = [*own, *defaults[kind]]
        out[kind] = merged
    return {"global": out}
