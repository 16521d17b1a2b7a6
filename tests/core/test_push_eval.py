"""Push rule evaluation: each v1.19 server-default rule against real event shapes,
the conditions' edge cases from the spec's examples, and glob matching properties."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranvier.core.push_eval import (
    RoomFacts,
    compile_rules,
    glob_matches,
    highlights,
    notifies,
    split_path,
    tweaks,
)
from ranvier.core.push_rules import UserRules, render, server_default_rules

ME = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!room:example.org"


def _message(
    body: str = "hello", extra: dict[str, Any] | None = None, **content: Any
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "sender": BOB,
        "room_id": ROOM,
        "event_id": "$e",
        "content": {"msgtype": "m.text", "body": body, **content, **(extra or {})},
    }


def _rule_for(event: dict[str, Any], facts: RoomFacts, rules: UserRules | None = None) -> str:
    compiled = compile_rules(render(rules or UserRules(), ME))
    rule = compiled.matching_rule(event, facts)
    return "" if rule is None else rule.rule_id


GROUP = RoomFacts(member_count=5, sender_power=0, notification_levels={"room": 50})
ONE_TO_ONE = RoomFacts(member_count=2)


def test_default_rule_order_is_the_spec_order() -> None:
    rules = server_default_rules(ME)
    assert [r["rule_id"] for r in rules["override"]] == [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
    ]
    assert [r["rule_id"] for r in rules["underride"]] == [
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert rules["content"] == [] and rules["room"] == [] and rules["sender"] == []
    assert rules["override"][0]["enabled"] is False


@pytest.mark.parametrize(
    ("event", "facts", "rule_id", "notify", "highlight"),
    [
        (_message(), GROUP, ".m.rule.message", True, False),
        (_message(), ONE_TO_ONE, ".m.rule.room_one_to_one", True, False),
        (_message(msgtype="m.notice"), GROUP, ".m.rule.suppress_notices", False, False),
        (
            {
                "type": "m.room.member",
                "state_key": ME,
                "sender": BOB,
                "room_id": ROOM,
                "content": {"membership": "invite"},
            },
            GROUP,
            ".m.rule.invite_for_me",
            True,
            False,
        ),
        (
            {
                "type": "m.room.member",
                "state_key": BOB,
                "sender": BOB,
                "room_id": ROOM,
                "content": {"membership": "join"},
            },
            GROUP,
            ".m.rule.member_event",
            False,
            False,
        ),
        (
            _message(extra={"m.mentions": {"user_ids": [ME]}}),
            GROUP,
            ".m.rule.is_user_mention",
            True,
            True,
        ),
        (
            _message(extra={"m.mentions": {"user_ids": ["@other:example.org"]}}),
            GROUP,
            ".m.rule.message",
            True,
            False,
        ),
        (
            _message(extra={"m.mentions": {"room": True}}),
            RoomFacts(member_count=5, sender_power=50, notification_levels={"room": 50}),
            ".m.rule.is_room_mention",
            True,
            True,
        ),
        # The sender lacks the power for @room: an ordinary message.
        (_message(extra={"m.mentions": {"room": True}}), GROUP, ".m.rule.message", True, False),
        (
            {
                "type": "m.room.tombstone",
                "state_key": "",
                "sender": BOB,
                "room_id": ROOM,
                "content": {"replacement_room": "!new:example.org"},
            },
            GROUP,
            ".m.rule.tombstone",
            True,
            True,
        ),
        (
            {
                "type": "m.reaction",
                "sender": BOB,
                "room_id": ROOM,
                "content": {
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": "$x", "key": "👍"}
                },
            },
            GROUP,
            ".m.rule.reaction",
            False,
            False,
        ),
        (
            {
                "type": "m.room.server_acl",
                "state_key": "",
                "sender": BOB,
                "room_id": ROOM,
                "content": {"allow": ["*"]},
            },
            GROUP,
            ".m.rule.room.server_acl",
            False,
            False,
        ),
        (
            _message(
                "* edited",
                extra={
                    "m.new_content": {"msgtype": "m.text", "body": "edited"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
                },
            ),
            GROUP,
            ".m.rule.suppress_edits",
            False,
            False,
        ),
        (
            {"type": "m.call.invite", "sender": BOB, "room_id": ROOM, "content": {}},
            GROUP,
            ".m.rule.call",
            True,
            False,
        ),
        (
            {"type": "m.room.encrypted", "sender": BOB, "room_id": ROOM, "content": {}},
            ONE_TO_ONE,
            ".m.rule.encrypted_room_one_to_one",
            True,
            False,
        ),
        (
            {"type": "m.room.encrypted", "sender": BOB, "room_id": ROOM, "content": {}},
            GROUP,
            ".m.rule.encrypted",
            True,
            False,
        ),
        (
            {"type": "m.room.topic", "state_key": "", "sender": BOB, "room_id": ROOM},
            GROUP,
            "",
            False,
            False,
        ),
    ],
)
def test_each_default_rule(
    event: dict[str, Any], facts: RoomFacts, rule_id: str, notify: bool, highlight: bool
) -> None:
    assert _rule_for(event, facts) == rule_id
    actions = compile_rules(render(UserRules(), ME)).evaluate(event, facts)
    if rule_id == "":
        assert actions is None
        return
    assert actions is not None
    assert notifies(actions) is notify
    assert highlights(actions) is highlight


def test_master_rule_silences_everything_when_enabled() -> None:
    rules = UserRules()
    rules.set_enabled("override", ".m.rule.master", True)
    compiled = compile_rules(render(rules, ME))
    assert compiled.evaluate(_message(), GROUP) == []


def test_user_rules_come_before_defaults_and_historical_actions_are_ignored() -> None:
    rules = UserRules()
    rules.put("room", ROOM, {"actions": ["dont_notify"]}, None, None)
    assert _rule_for(_message(), GROUP, rules) == ROOM
    assert compile_rules(render(rules, ME)).evaluate(_message(), GROUP) == []
    # A mention is an override rule: it still wins over the room rule.
    mention = _message(extra={"m.mentions": {"user_ids": [ME]}})
    assert _rule_for(mention, GROUP, rules) == ".m.rule.is_user_mention"


def test_content_rule_matches_on_word_boundaries() -> None:
    rules = UserRules()
    rules.put("content", "cake", {"pattern": "cake", "actions": ["notify"]}, None, None)
    assert _rule_for(_message("I like cake!"), GROUP, rules) == "cake"
    assert _rule_for(_message("CAKE"), GROUP, rules) == "cake"
    assert _rule_for(_message("pancakes"), GROUP, rules) == ".m.rule.message"
    star = UserRules()
    star.put("content", "any", {"pattern": "*", "actions": ["notify"]}, None, None)
    assert _rule_for(_message("Test message 1"), GROUP, star) == "any"


def test_spec_examples_of_conditions() -> None:
    def match(cond: dict[str, Any], event: dict[str, Any], facts: RoomFacts = GROUP) -> bool:
        compiled = compile_rules(
            {"override": [{"rule_id": "x", "conditions": [cond], "actions": ["notify"]}]}
        )
        return compiled.evaluate(event, facts) is not None

    topic = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}
    for value, expected in [
        ("Lunch plans", True),
        ("LUNCH", True),
        (" lunch", False),
        ("lunc", False),
        (None, False),
    ]:
        assert match(topic, {"content": {"topic": value}}) is expected, value
    assert not match({"kind": "event_match", "key": "content.topic", "pattern": "*"}, {})
    body = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}
    for value in ["An example event.", "exple", "An exciting triple-whammy"]:
        assert match(body, {"content": {"body": value}}), value
    federate = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}
    assert match(federate, {"content": {"m.federate": True}})
    assert not match(federate, {"content": {"m.federate": "true"}})
    assert not match(federate, {"content": {"m.federate": 1}})
    aliases = {
        "kind": "event_property_contains",
        "key": "content.alt_aliases",
        "value": "#myroom:example.com",
    }
    assert match(aliases, {"content": {"alt_aliases": ["#a:b", "#myroom:example.com"]}})
    assert not match(aliases, {"content": {"alt_aliases": [":example.com"]}})
    assert not match(aliases, {"content": {"alt_aliases": "#myroom:example.com"}})
    assert not match({"kind": "no_such_condition"}, _message())
    name = {"kind": "contains_display_name"}
    assert match(name, _message("hi Alice!"), RoomFacts(display_name="alice"))
    assert not match(name, _message("hi Alicea"), RoomFacts(display_name="alice"))
    assert not match(name, _message("hi Alice"), RoomFacts(display_name=None))


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [
        ("2", 2, True),
        ("2", 3, False),
        ("==2", 2, True),
        ("<3", 2, True),
        ("<3", 3, False),
        (">3", 4, True),
        ("<=10", 10, True),
        (">=10", 9, False),
        ("abc", 2, False),
        ("", 0, False),
    ],
)
def test_room_member_count(spec: str, count: int, expected: bool) -> None:
    compiled = compile_rules(
        {
            "override": [
                {
                    "rule_id": "x",
                    "conditions": [{"kind": "room_member_count", "is": spec}],
                    "actions": ["notify"],
                }
            ]
        }
    )
    assert (compiled.evaluate({}, RoomFacts(member_count=count)) is not None) is expected


def test_dotted_paths_with_escapes() -> None:
    assert split_path("content.body") == ("content", "body")
    assert split_path("content.m\\.relates_to.rel_type") == (
        "content",
        "m.relates_to",
        "rel_type",
    )
    assert split_path("content.m\\\\foo") == ("content", "m\\foo")
    assert split_path("content.m\\xfoo") == ("content", "m\\xfoo")


def test_tweaks() -> None:
    actions = ["notify", {"set_tweak": "sound", "value": "ring"}, {"set_tweak": "highlight"}]
    assert tweaks(actions) == {"sound": "ring", "highlight": True}
    assert not highlights(["notify", {"set_tweak": "highlight", "value": False}])


# ---- glob properties ----------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="*?"), max_size=12)


@given(_text)
def test_a_literal_glob_matches_itself_in_any_case(value: str) -> None:
    assert glob_matches(value, value)
    assert glob_matches(value.upper(), value) or value.upper().lower() != value.lower()


@given(_text, _text)
def test_star_matches_any_suffix(prefix: str, rest: str) -> None:
    assert glob_matches(prefix + "*", prefix + rest)


@given(_text)
def test_question_mark_is_exactly_one_character(value: str) -> None:
    assert glob_matches("?" * len(value), value)
    assert not glob_matches("?" * (len(value) + 1), value)


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=8))
def test_glob_agrees_with_a_reference_translation(pattern: str, value: str) -> None:
    reference = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    assert glob_matches(pattern, value) == (re.fullmatch(reference, value, re.S) is not None)


@given(st.text(alphabet="ab -_", max_size=10))
def test_word_boundary_glob_never_matches_inside_a_word(value: str) -> None:
    # "ab" as a whole word: a match must not touch a word character on either side.
    found = glob_matches("ab", value, word_boundary=True)
    words = re.split(r"[^A-Za-z0-9_]", value)
    assert found == ("ab" in words)


def test_legacy_mention_rules_when_enabled() -> None:
    rules = server_default_rules(ME, legacy=True)
    ids = [r["rule_id"] for r in rules["override"]]
    assert ids.index(".m.rule.contains_display_name") == ids.index(".m.rule.is_user_mention") + 1
    assert ids.index(".m.rule.roomnotif") == ids.index(".m.rule.is_room_mention") + 1
    assert [r["rule_id"] for r in rules["content"]] == [".m.rule.contains_user_name"]
    assert rules["content"][0]["pattern"] == "alice"
    compiled = compile_rules(render(UserRules(), ME, legacy=True))
    named = RoomFacts(member_count=5, display_name="Alice Liddell")
    rule = compiled.matching_rule(_message(f"Second message - {ME}"), GROUP)
    assert rule is not None and rule.rule_id == ".m.rule.contains_user_name"
    rule = compiled.matching_rule(_message("hi Alice Liddell"), named)
    assert rule is not None and rule.rule_id == ".m.rule.contains_display_name"
    powerful = RoomFacts(member_count=5, sender_power=100)
    rule = compiled.matching_rule(_message("@room lunch"), powerful)
    assert rule is not None and rule.rule_id == ".m.rule.roomnotif"
    # With m.mentions the legacy rules are skipped (MSC3952).
    quiet = _message("hi alice", extra={"m.mentions": {}})
    rule = compiled.matching_rule(quiet, GROUP)
    assert rule is not None and rule.rule_id == ".m.rule.message"
    # Without legacy they do not exist.
    plain = compile_rules(render(UserRules(), ME))
    rule = plain.matching_rule(_message(f"hi {ME}"), GROUP)
    assert rule is not None and rule.rule_id == ".m.rule.message"


def test_the_shared_evaluation_equals_each_users_own() -> None:
    """What the processor relies on: for users with the server defaults, the
    evaluation for GENERIC_USER is theirs unless named_users names them."""
    from ranvier.core.push_eval import GENERIC_USER, has_body, named_users

    users = [ME, BOB, "@carol:example.org"]
    events = [
        _message(),
        _message(extra={"m.mentions": {"user_ids": [BOB]}}),
        _message(extra={"m.mentions": {"room": True}}),
        {
            "type": "m.room.member",
            "state_key": BOB,
            "sender": ME,
            "room_id": ROOM,
            "content": {"membership": "invite"},
        },
        {"type": "m.room.encrypted", "sender": BOB, "room_id": ROOM, "content": {}},
        {"type": "m.room.tombstone", "state_key": "", "sender": BOB, "room_id": ROOM},
    ]
    for legacy in (False, True):
        generic = compile_rules(render(UserRules(), GENERIC_USER, legacy))
        for event in events:
            for facts in (GROUP, ONE_TO_ONE):
                shared = generic.evaluate(event, facts)
                for user in users:
                    own = compile_rules(render(UserRules(), user, legacy)).evaluate(event, facts)
                    if user in named_users(event) or (legacy and has_body(event)):
                        continue
                    assert own == shared, (legacy, event, user)
