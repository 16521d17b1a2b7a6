"""Sync: ``/sync``, ``/messages``, ``/context`` and send-to-device for local users.

How the package works: :mod:`.tokens` defines the since-token (one position per stream)
and pagination tokens; :mod:`.notifier` learns committed positions (room events from
the bus, account data and to-device from their stores) and wakes the long-polls an
update concerns; :mod:`.store` holds the read queries over the rooms tables;
:mod:`.filters` parses and applies filters; :mod:`.history` applies history visibility
to batches of events and :mod:`.render` turns stored events into client events. A sync
(:mod:`.service`) is assembled from one module per section: :mod:`.rooms` (joined and
left rooms, built on :mod:`.timeline`), :mod:`.invites` (invited and knocked rooms),
:mod:`.account_data` and :mod:`.to_device`. :mod:`.pagination` serves ``/messages`` and
``/context`` with the same positions as sync.
"""
