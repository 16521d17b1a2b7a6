"""Ephemeral room data and per-user status: typing, receipts, read markers, presence,
and the ignored users filter.

How the package works: each kind is a sync *stream* with a monotonic position.
:class:`~ranvier.ephemeral.typing.TypingState` keeps typing notifications in memory;
:class:`~ranvier.ephemeral.receipts.ReceiptService` and
:class:`~ranvier.ephemeral.presence.PresenceService` persist through their stores
(migration ``0600_ephemeral.sql``). Every stream offers ``current_position()`` and
``changes_since(user_id, rooms, from_pos, to_pos)`` returning what a ``/sync``
response needs, and tells its listeners (:class:`~ranvier.ephemeral.stream.Listeners`,
normally the sync notifier) ``(position, room_ids, user_ids)`` after each change so
exactly the concerned long-polls wake. Read markers
(:mod:`ranvier.ephemeral.read_markers`) are room account data and receipts; the
ignored users list (:mod:`ranvier.ephemeral.ignored`) is global account data with a
cache the account data store invalidates.
"""
