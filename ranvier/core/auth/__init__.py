"""Authorization rules of Matrix rooms v1-v12, as pure functions.

:func:`check_auth_rules` decides whether an event is allowed by a given set of
state (rules.py); :func:`check_auth_events_shape` checks the event's listed auth
events themselves and :func:`auth_types_for_event` says which state they come
from (auth_types.py); power level reading and the power levels rule are in
power_levels.py; membership in membership.py; the create event in create.py;
third-party invite signatures in third_party_invite.py. Every rejection is an
:class:`AuthError` that names the failed rule.
"""

from ranvier.core.auth.auth_types import auth_types_for_event, check_auth_events_shape
from ranvier.core.auth.errors import AuthError
from ranvier.core.auth.membership import join_rule_of, membership_of
from ranvier.core.auth.power_levels import (
    get_creators,
    get_named_power_level,
    get_required_power_level,
    get_user_power_level,
    parse_power_level,
)
from ranvier.core.auth.rules import check_auth_rules, redaction_allowed_at_serve_time

__all__ = [
    "AuthError",
    "auth_types_for_event",
    "check_auth_events_shape",
    "check_auth_rules",
    "get_creators",
    "get_named_power_level",
    "get_required_power_level",
    "get_user_power_level",
    "join_rule_of",
    "membership_of",
    "parse_power_level",
    "redaction_allowed_at_serve_time",
]
