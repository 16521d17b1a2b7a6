"""Email pushers: a summary mail of unread notifications (client-server-api "Push
Notifications": ``kind`` ``"email"`` "makes a pusher that emails the user with unread
notifications"; pusher.yaml).

Theory of operation
-------------------
The spec leaves the mail itself to the server. Ranvier sends what a person wants from
an email pusher: not one mail per message, but a reminder when notifications stay
unread. :meth:`EmailNotifier.notify` is called for each notification of a user with
an email pusher; if no check is pending for that pusher it schedules one
``delay_s`` later. The check mails the pusher's address (its ``pushkey``) a summary
of the user's unread notifications (room, sender, body of up to
:data:`MAX_LISTED` of them) when there still are any, and not more than once per
``throttle_s``: a check inside the throttle window is put off to its end.

Mail goes through the server's :class:`~ranvier.users.mailer.Mailer`
(``client_api.email``); without one, email pushers are stored and nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ranvier.push.counts import NotificationStore
from ranvier.push.pushers import Pusher
from ranvier.users.mailer import Mailer, MailError

logger = logging.getLogger(__name__)

MAX_LISTED = 10
"""Notifications quoted in one mail."""

Describe = Callable[[str, str], Awaitable[str | None]]
"""``await describe(user_id, event_id)``: one line about a notifying event the user
may see, or None."""

PusherKey = tuple[str, str, str]


class EmailNotifier:
    """Schedules and sends the summary mails of email pushers (module docstring)."""

    def __init__(
        self,
        mailer: Mailer | None,
        notifications: NotificationStore,
        describe: Describe,
        server_name: str,
        *,
        delay_s: float = 600.0,
        throttle_s: float = 3600.0,
    ) -> None:
        self.mailer = mailer
        self.notifications = notifications
        self.describe = describe
        self.server_name = server_name
        self.delay_s = delay_s
        self.throttle_s = throttle_s
        self._pending: dict[PusherKey, asyncio.Task[None]] = {}
        self._last_sent: dict[PusherKey, float] = {}
        self.sent = 0

    def notify(self, pusher: Pusher) -> None:
        """A notification for ``pusher``'s user: make sure a check is scheduled."""
        if self.mailer is None:
            return
        key = (pusher.user_id, pusher.app_id, pusher.pushkey)
        task = self._pending.get(key)
        if task is not None and not task.done():
            return
        self._pending[key] = asyncio.get_running_loop().create_task(self._check(key, pusher))

    async def _check(self, key: PusherKey, pusher: Pusher) -> None:
        try:
            await asyncio.sleep(self.delay_s)
            wait = self._last_sent.get(key, -1e18) + self.throttle_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._send(key, pusher)
        except asyncio.CancelledError:
            raise
        except MailError as exc:
            logger.warning("push: mail to %s failed: %s", pusher.pushkey, exc)
        except Exception:
            logger.exception("push: email pusher check failed")
        finally:
            if self._pending.get(key) is asyncio.current_task():
                del self._pending[key]

    async def _send(self, key: PusherKey, pusher: Pusher) -> None:
        rows = await self.notifications.list(pusher.user_id, None, 50, only_highlight=False)
        unread = [r for r in rows if not r.read]
        if not unread or self.mailer is None:
            return
        lines: list[str] = []
        for row in unread[:MAX_LISTED]:
            line = await self.describe(pusher.user_id, row.event_id)
            if line:
                lines.append(line)
        total = await self.notifications.unread_total(pusher.user_id)
        subject = f"{total} unread notification{'s' if total != 1 else ''} on {self.server_name}"
        text = (
            f"Hello {pusher.user_id},\n\n"
            f"You have {total} unread notification{'s' if total != 1 else ''}:\n\n"
            + "".join(f"  {line}\n" for line in lines)
            + "\nOpen your Matrix client to read them.\n"
        )
        await self.mailer.send(pusher.pushkey, subject, text)
        self._last_sent[key] = time.monotonic()
        self.sent += 1

    async def close(self) -> None:
        """Cancel the scheduled checks."""
        for task in list(self._pending.values()):
            task.cancel()
        for task in list(self._pending.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
