"""A user's push rules: placement with before/after, defaults' enabled/actions,
validation errors of pushrules.yaml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ranvier.core.push_rules import PushRuleError, UserRules, render

ME = "@alice:example.org"


def _ids(rules: UserRules, kind: str) -> list[str]:
    return [r["rule_id"] for r in render(rules, ME)["global"][kind]]


def test_new_rules_go_first_and_before_after_place_them() -> None:
    rules = UserRules()
    rules.put("room", "!a:x", {"actions": ["notify"]}, None, None)
    rules.put("room", "!b:x", {"actions": ["notify"]}, None, None)
    assert _ids(rules, "room") == ["!b:x", "!a:x"]
    rules.put("room", "!c:x", {"actions": ["notify"]}, "!a:x", None)
    assert _ids(rules, "room") == ["!b:x", "!c:x", "!a:x"]
    rules.put("room", "!d:x", {"actions": ["notify"]}, None, "!b:x")
    assert _ids(rules, "room") == ["!b:x", "!d:x", "!c:x", "!a:x"]
    # Replacing keeps the place; the same rule twice is one rule.
    rules.put("room", "!c:x", {"actions": []}, None, None)
    assert _ids(rules, "room") == ["!b:x", "!d:x", "!c:x", "!a:x"]
    assert rules.get(ME, "room", "!c:x")["actions"] == []
    with pytest.raises(PushRuleError) as err:
        rules.put("room", "!e:x", {"actions": []}, "!nope:x", None)
    assert (err.value.status, err.value.errcode) == (400, "M_UNKNOWN")
    rules.delete("room", "!a:x")
    assert _ids(rules, "room") == ["!b:x", "!d:x", "!c:x"]


def test_user_override_rules_follow_master_and_precede_other_defaults() -> None:
    rules = UserRules()
    rules.put(
        "override",
        "mine",
        {"conditions": [{"kind": "event_match", "key": "type", "pattern": "x"}], "actions": []},
        None,
        None,
    )
    ids = _ids(rules, "override")
    assert ids[:3] == [".m.rule.master", "mine", ".m.rule.suppress_notices"]
    rule = render(rules, ME)["global"]["override"][1]
    assert rule["default"] is False and rule["enabled"] is True


def test_defaults_can_be_enabled_and_given_actions_but_not_replaced() -> None:
    rules = UserRules()
    rules.set_enabled("underride", ".m.rule.message", False)
    rules.set_actions("underride", ".m.rule.message", ["dont_notify"])
    rule = rules.get(ME, "underride", ".m.rule.message")
    assert rule["enabled"] is False and rule["actions"] == ["dont_notify"]
    assert rule["default"] is True
    calls: list[tuple[Callable[[], object], int]] = [
        (lambda: rules.put("underride", ".m.rule.message", {"actions": []}, None, None), 400),
        (lambda: rules.delete("underride", ".m.rule.message"), 400),
        (lambda: rules.set_actions("override", ".not.a.default.rule", ["notify"]), 404),
        (lambda: rules.set_enabled("override", ".not.a.default.rule", True), 404),
        (lambda: rules.set_enabled("override", ".m.rule.master", "yes"), 400),
        (lambda: rules.get(ME, "override", "not_a_rule_id"), 404),
        (lambda: rules.delete("sender", "@nobody:x"), 404),
    ]
    for call, status in calls:
        with pytest.raises(PushRuleError) as err:
            call()
        assert err.value.status == status


@pytest.mark.parametrize(
    ("kind", "rule_id", "body"),
    [
        ("not_a_kind", "foo", {"actions": []}),
        ("room", "", {"actions": []}),
        ("room", "#fo\\o:example.com", {"actions": []}),
        ("room", "a/b", {"actions": []}),
        ("override", "my_id", {"actions": []}),
        ("underride", "my_id", {"actions": [], "conditions": [{}]}),
        ("content", "my_id", {"actions": []}),
        ("room", "!r:x", {}),
        ("room", "!r:x", {"actions": ["not_an_action"]}),
        ("room", "!r:x", {"actions": ["org.matrix.msc2625.mark_unread"]}),
        ("room", "!r:x", {"actions": "notify"}),
        ("override", ".mine", {"actions": [], "conditions": []}),
    ],
)
def test_invalid_rules_are_400(kind: str, rule_id: str, body: dict[str, object]) -> None:
    with pytest.raises(PushRuleError) as err:
        UserRules().put(kind, rule_id, body, None, None)
    assert err.value.status == 400


def test_round_trip_through_json() -> None:
    rules = UserRules()
    rules.put("content", "тест", {"pattern": "тест", "actions": ["notify"]}, None, None)
    rules.set_enabled("override", ".m.rule.master", True)
    again = UserRules.from_json(rules.to_json())
    assert render(again, ME) == render(rules, ME)
