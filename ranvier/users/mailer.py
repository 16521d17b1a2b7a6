"""Sending mail over SMTP (for email address validation).

The standard library's :mod:`smtplib` speaks the protocol (EHLO, STARTTLS, AUTH, the
dot-stuffed DATA phase); it blocks, so each message is sent from a worker thread and
the event loop never waits on the network. STARTTLS is used whenever the server
offers it, and required when ``require_transport_security`` is set; a login is made
only when credentials are configured. Mail is rare here (one per validation request),
so a connection per message is enough. :mod:`smtplib` and :mod:`email` (about 3 MiB)
are imported with the first message, not at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import TYPE_CHECKING

from ranvier.config.schema import EmailConfig

if TYPE_CHECKING:
    from email.message import EmailMessage

SMTP_TIMEOUT_S = 30.0


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


class Mailer:
    """Sends plain-text messages through the configured SMTP server."""

    def __init__(self, config: EmailConfig, default_from: str) -> None:
        self.config = config
        self.from_address = config.from_address or default_from

    def compose(self, to: str, subject: str, text: str) -> EmailMessage:
        """A ``text/plain`` UTF-8 message with the usual headers."""
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2] or None)
        message.set_content(text)
        return message

    async def send(self, to: str, subject: str, text: str) -> None:
        """Send one message; raise :class:`MailError` if the SMTP server refuses it."""
        import smtplib

        message = self.compose(to, subject, text)
        try:
            await asyncio.to_thread(self._send_sync, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(exc)) from exc

    def _send_sync(self, message: EmailMessage) -> None:
        import smtplib

        c = self.config
        smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=SMTP_TIMEOUT_S)
        try:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            elif c.require_transport_security:
                raise MailError("the SMTP server does not offer STARTTLS")
            if c.smtp_username:
                smtp.login(c.smtp_username, c.smtp_password)
            smtp.send_message(message)
            # The message was accepted; a server that answers QUIT oddly changes nothing.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        finally:
            smtp.close()
