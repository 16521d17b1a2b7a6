"""Federation metrics: what other servers sent us, what we refused and why.

Spec: server-server-api "Request Authentication" (401 for a bad ``X-Matrix``
header), "Transactions" (at most 50 PDUs and 100 EDUs, the body's ``origin``),
"Checks performed on receipt of a PDU" (dropped for a bad format or signature,
redacted for a wrong content hash, rejected by the auth rules, soft failed), "Room
Versions" (a room version the server does not implement), "Server Access Control
Lists (ACLs)".

Theory of operation
-------------------
The federation components do not know about Prometheus. Each has a *reject hook*, a
plain ``hook(reason)`` callable that does nothing by default
(:data:`RejectHook`): the X-Matrix authenticator, the transaction processor (for the
transaction and for each PDU in it), the remote joiner, the remote leaves and knocks
and the invite receiver call it with a short,
stable reason code (:data:`REASONS`) every time they refuse something. The
:class:`FederationMetrics` of a server owns the counters in the server's
:class:`~ranvier.http.metrics.Metrics` registry and :meth:`~FederationMetrics.attach`
points every hook at :meth:`~FederationMetrics.reject`, so one counter per reason is
exported at ``/metrics`` as ``ranvier_federation_rejected_total{reason="..."}``.
PDU outcomes, EDUs by type and transactions in and out are counted alongside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ranvier.http.metrics import Counter, Metrics

if TYPE_CHECKING:
    from ranvier.federation.rooms import FederationRooms
    from ranvier.federation.service import Federation

RejectHook = Callable[[str], None]
"""``hook(reason)``: something received over federation was refused for ``reason``."""


def ignore_rejection(reason: str) -> None:
    """The default :data:`RejectHook`: count nothing."""
    del reason


REASONS: dict[str, str] = {
    # request authentication (X-Matrix)
    "missing_auth": "no Authorization header",
    "malformed_xmatrix": "an Authorization header that is not well-formed X-Matrix",
    "wrong_destination": "an X-Matrix destination that is not this server",
    "bad_origin": "an X-Matrix origin that is not a valid server name",
    "unknown_key": "a request signed with a key that cannot be found or is not valid",
    "bad_request_signature": "an X-Matrix signature that does not verify",
    "not_json": "a request body that is not JSON",
    "denied_server": "a server refused by policy",
    # transactions
    "malformed_transaction": "a transaction body of the wrong shape",
    "origin_mismatch": "a transaction whose origin is not the authenticated server",
    "oversized_transaction": "more than 50 PDUs or 100 EDUs",
    # PDUs
    "bad_format": "a PDU of the wrong format (dropped)",
    "bad_signature": "a PDU not signed by the servers that must sign it (dropped)",
    "bad_content_hash": "a PDU whose content hash does not match (redacted)",
    "auth_failed": "a PDU failing the authorization rules (rejected)",
    "soft_failed": "a PDU failing against the current state (soft failed)",
    "not_in_room": "a PDU for a room this server is not in (dropped)",
    "acl_denied": "a PDU from a server the room's ACL denies",
    "missing_state": "a PDU whose prior state could not be had (dropped)",
    # joins, leaves, knocks, invites and PDUs
    "unknown_room_version": "a room version this server does not implement",
}
"""Every reason code and what it means (the counter's ``reason`` label)."""


class FederationMetrics:
    """The federation counters of one server (see the module docstring)."""

    def __init__(self, metrics: Metrics) -> None:
        reg = metrics.registry
        self.rejected = reg.register(
            Counter(
                "ranvier_federation_rejected_total",
                "Things received over federation and refused, by reason.",
                ("reason",),
            )
        )
        self.pdus = reg.register(
            Counter(
                "ranvier_federation_inbound_pdus_total",
                "PDUs received in transactions, by outcome.",
                ("outcome",),
            )
        )
        self.edus = reg.register(
            Counter(
                "ranvier_federation_inbound_edus_total",
                "EDUs received in transactions, by type (handled or not).",
                ("edu_type", "handled"),
            )
        )
        self.transactions_in = reg.register(
            Counter(
                "ranvier_federation_inbound_transactions_total",
                "Transactions received and processed (repeats answered from storage excluded).",
            )
        )
        self.transactions_out = reg.register(
            Counter(
                "ranvier_federation_outbound_transactions_total",
                "Transactions accepted by their destination.",
            )
        )

    def reject(self, reason: str) -> None:
        """Count one refusal (unknown codes are counted under ``other``)."""
        self.rejected.inc(1.0, (reason if reason in REASONS else "other",))

    def pdu(self, outcome: str) -> None:
        """Count one PDU's outcome (``accepted``, ``soft_failed``, ``rejected``,
        ``dropped``, ``outlier``)."""
        self.pdus.inc(1.0, (outcome,))

    def edu(self, edu_type: str, handled: bool) -> None:
        """Count one EDU (its type as a label only when a handler knows it, so remote
        servers cannot grow the label set)."""
        self.edus.inc(1.0, (edu_type if handled else "unknown", "yes" if handled else "no"))

    def transaction_in(self) -> None:
        """Count one processed inbound transaction."""
        self.transactions_in.inc()

    def transaction_out(self) -> None:
        """Count one outbound transaction the destination accepted."""
        self.transactions_out.inc()

    def value(self, reason: str) -> int:
        """The count for ``reason`` (tests, admin)."""
        return int(self.rejected.value((reason,)))

    def attach(self, federation: Federation, rooms: FederationRooms | None) -> None:
        """Point the reject hooks of ``federation`` and ``rooms`` at these counters."""
        federation.authenticator.on_reject = self.reject
        if rooms is None:
            return
        rooms.transactions.on_reject = self.reject
        rooms.transactions.on_pdu = self.pdu
        rooms.transactions.on_edu = self.edu
        rooms.transactions.on_transaction = self.transaction_in
        rooms.sender.on_sent = self.transaction_out
        rooms.joiner.on_reject = self.reject
        rooms.remote_membership.on_reject = self.reject
        rooms.invites.on_reject = self.reject
