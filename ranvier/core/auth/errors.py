"""The one exception of the authorization rules.

:class:`AuthError` carries the number of the failed rule (as the spec numbers it
for the event's room version family, e.g. ``"5.3.2"``) and a human-readable
reason, so logs and the API layer (``M_FORBIDDEN``) can say exactly why an event
was rejected.
"""

from __future__ import annotations


class AuthError(Exception):
    """An event failed the authorization rules of its room version.

    ``rule`` names the rule in the spec's words (e.g. ``"member/join"``,
    ``"power_levels/users"``); ``reason`` is a sentence for humans.
    """

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{reason} [{rule}]")
        self.rule = rule
        self.reason = reason
