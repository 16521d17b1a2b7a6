"""Push notifications (client-server-api "Push Notifications", push-gateway-api).

How the package works: :mod:`.rules` keeps each user's push rules (stored as a
:class:`~ranvier.core.push_rules.UserRules` document, mirrored into the ``m.push_rules``
account data so ``/sync`` delivers changes) and their compiled form for evaluation
(:mod:`ranvier.core.push_eval`). :mod:`.pushers` stores pushers and deletes them with
the device that created them. :mod:`.processor` consumes every persisted room event
from the bus, evaluates the rules of the room's local members (not the sender; users
with the default rules share one evaluation per event), and records notifications and
unread counts per room and thread (:mod:`.counts`, written behind in batches and read
with the pending changes applied), then hands notifying events to :mod:`.gateway`,
which POSTs them to the users' HTTP push gateways with retries. Read receipts reset
the counts (and send the new badge count). :mod:`.sync_hook` adds
``unread_notifications``/``unread_thread_notifications`` and the default
``m.push_rules`` to ``/sync`` responses. :mod:`.service` assembles it all for the
composition root. :mod:`.email` mails email pushers a summary of what stays unread.
"""
