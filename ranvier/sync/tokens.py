"""Sync and pagination tokens (client-server-api "Syncing", "Pagination").

A :class:`SyncToken` is a point in every stream ``/sync`` reads, written as an opaque
string ``s<events>_<account_data>_<to_device>_<typing>_<receipts>_<presence>_<device_lists>``: the
``events`` stream is the rooms' global stream ordering
(:mod:`ranvier.rooms.event_store`), ``account_data`` the position of
:class:`ranvier.users.account_data.AccountDataStore`, ``to_device`` that of
:class:`ranvier.sync.to_device.ToDeviceStore`, and the last three those of the
ephemeral streams (:mod:`ranvier.ephemeral`: typing in memory, receipts and presence
stored), ``device_lists`` that of :class:`ranvier.e2ee.device_list_stream.DeviceListStream`.
A stream added later is appended; a
token with fewer fields reads the missing ones as 0 (the new stream is then sent from
its beginning, which is always correct).

A position ``P`` of the events stream names the gap *after* the event with stream
ordering ``P``: "events at or before P" are behind it, "events after P" ahead of it.
``/messages`` uses the same positions: it accepts any :class:`SyncToken` (a sync's
``prev_batch`` or ``next_batch``, as the spec requires) and answers with the shorter
pagination token ``t<events>``; :func:`parse_position` reads both forms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ranvier.http.types import MatrixError

_MAX = 2**63 - 1
_FIELDS = 7


class InvalidToken(ValueError):
    """A token that this server did not make."""


def _int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise InvalidToken(text)
    value = int(text)
    if value > _MAX:
        raise InvalidToken(text)
    return value


@dataclass(frozen=True, slots=True)
class SyncToken:
    """A position in each stream ``/sync`` reads."""

    events: int = 0
    account_data: int = 0
    to_device: int = 0
    typing: int = 0
    receipts: int = 0
    presence: int = 0
    device_lists: int = 0

    def __str__(self) -> str:
        return (
            f"s{self.events}_{self.account_data}_{self.to_device}"
            f"_{self.typing}_{self.receipts}_{self.presence}_{self.device_lists}"
        )

    @classmethod
    def parse(cls, text: str) -> SyncToken:
        """The token written as ``text``; raises :class:`InvalidToken`."""
        if not text.startswith("s"):
            raise InvalidToken(text)
        parts = text[1:].split("_")
        if len(parts) > _FIELDS:
            raise InvalidToken(text)
        values = [_int(p) for p in parts] + [0] * (_FIELDS - len(parts))
        return cls(*values)

    def advance(self, other: SyncToken) -> SyncToken:
        """The later of both tokens, stream by stream."""
        return SyncToken(
            max(self.events, other.events),
            max(self.account_data, other.account_data),
            max(self.to_device, other.to_device),
            max(self.typing, other.typing),
            max(self.receipts, other.receipts),
            max(self.presence, other.presence),
            max(self.device_lists, other.device_lists),
        )

    def with_events(self, events: int) -> SyncToken:
        """This token with the events position replaced."""
        return replace(self, events=events)


def parse_sync_token(text: str) -> SyncToken:
    """A ``since`` parameter, or 400 ``M_INVALID_PARAM``."""
    try:
        return SyncToken.parse(text)
    except InvalidToken:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid sync token") from None


def pagination_token(position: int) -> str:
    """The ``/messages`` token for the gap after stream position ``position``."""
    return f"t{position}"


def parse_position(text: str, name: str = "from") -> int:
    """The events position of a ``/messages`` token (``t<N>``) or of a sync token;
    400 ``M_INVALID_PARAM`` otherwise."""
    try:
        if text.startswith("t-"):  # before the room's history: backfilled events
            return -_int(text[2:])
        if text.startswith("t"):
            return _int(text[1:])
        return SyncToken.parse(text).events
    except InvalidToken:
        raise MatrixError(400, "M_INVALID_PARAM", f"Invalid pagination token in {name!r}") from None
