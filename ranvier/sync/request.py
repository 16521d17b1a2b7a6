"""What one ``/sync`` computation works with (client-server-api "Syncing", sync.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from ranvier.sync.filters import SyncFilter
from ranvier.sync.tokens import SyncToken


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """The parameters of a sync and the token range it covers."""

    user_id: str
    device_id: str | None
    filter: SyncFilter
    since: SyncToken | None
    """None for an initial sync."""
    upto: SyncToken
    """Everything up to this token is read (it becomes ``next_batch``)."""
    full_state: bool = False
    use_state_after: bool = False
    ignored: frozenset[str] = frozenset()
    """Users whose non-state events and invites are not sent (``m.ignored_user_list``)."""

    @property
    def since_events(self) -> int | None:
        """The events position of ``since``, or None for an initial sync."""
        return None if self.since is None else self.since.events
