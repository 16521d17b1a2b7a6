"""The one exception of the authorization rules.

:class:`AuthError` names the rule that rejected the event (a short stable tag
such as ``"member/join"`` or ``"power_levels/users"``, since the spec's rule
numbers shift between room versions) and a human-readable reason, so logs, tests
and the API layer (``M_FORBIDDEN``) can say exactly why an event was rejected.

Tags: ``create``, ``room_id`` (v12 rule 2), ``auth_events``, ``federate``,
``aliases`` (v1-v5), ``member``, ``member/authorising_signature`` (v8+),
``member/join``, ``member/join/restricted`` (v8+), ``member/invite``,
``member/third_party_invite``, ``member/leave``, ``member/ban``,
``member/knock`` (v7+), ``sender_joined``, ``third_party_invite``,
``required_power_level``, ``state_key_user``, ``power_levels/integers``,
``power_levels/users``, ``power_levels/creators`` (v12),
``power_levels/levels``, ``power_levels/events``,
``power_levels/notifications`` (v6+), ``redaction`` (v1-v2).
"""

from __future__ import annotations


class AuthError(Exception):
    """An event failed the authorization rules of its room version.

    ``rule`` is the tag of the failed rule (see the module docstring);
    ``reason`` is a sentence for humans.
    """

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{reason} [{rule}]")
        self.rule = rule
        self.reason = reason
