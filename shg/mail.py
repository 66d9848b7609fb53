"""E-mail through SMTP: where the staff's digests leave the ledger.

``Mailer.send(to, subject, body) -> message_id`` raises ``MailError`` when the server did
not take the message (down, refused, login failed), so ``loans.reminders.send_due`` can
retry it later. Settings: MAIL_SERVER, MAIL_PORT, MAIL_SECURITY (``none``, ``starttls`` or
``ssl``), MAIL_USERNAME, MAIL_PASSWORD, MAIL_FROM, MAIL_TIMEOUT. With no MAIL_SERVER set,
``mailer_from_config`` gives a console mailer that only logs (development laptops).
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)

SECURITY = ("none", "starttls", "ssl")


class MailError(Exception):
    """The SMTP server did not take the message."""


class SmtpMailer:
    """One SMTP connection per message: digests are few (one per officer per morning), and a
    fresh connection never inherits a half-broken session from the last failure."""

    def __init__(self, host: str, port: int = 25, security: str = "none",
                 username: str | None = None, password: str | None = None,
                 sender: str = "shg-ledger@localhost", timeout: float = 15.0):
        if security not in SECURITY:
            raise ValueError(f"MAIL_SECURITY must be one of {', '.join(SECURITY)}")
        self.host, self.port, self.security = host, int(port), security
        self.username, self.password = username, password
        self.sender, self.timeout = sender, timeout

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.sender.rpartition("@")[2] or "localhost"
        msg["Message-ID"] = make_msgid(domain=domain)
        msg.set_content(body)  # UTF-8, so Cyrillic arrives intact
        return msg

    def send(self, to: str, subject: str, body: str) -> str:
        msg = self.message(to, subject, body)
        try:
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, rejected
            raise MailError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        return msg["Message-ID"]


class ConsoleMailer:
    """Logs the message instead of sending it: nothing leaves the machine."""

    def __init__(self):
        self.sent: list[tuple[str, str, str, str]] = []

    def send(self, to: str, subject: str, body: str) -> str:
        message_id = f"<console-{uuid.uuid4().hex[:12]}@localhost>"
        self.sent.append((message_id, to, subject, body))
        log.info("E-mail to %s (%s): %s\n%s", to, message_id, subject, body)
        return message_id


def mailer_from_config(config) -> SmtpMailer | ConsoleMailer:
    """The mailer the settings name; the console one when no MAIL_SERVER is set."""
    host = config.get("MAIL_SERVER")
    if not host:
        return ConsoleMailer()
    return SmtpMailer(host, int(config.get("MAIL_PORT") or 25),
                      (config.get("MAIL_SECURITY") or "none").lower(),
                      config.get("MAIL_USERNAME") or None, config.get("MAIL_PASSWORD") or None,
                      config.get("MAIL_FROM") or "shg-ledger@localhost",
                      float(config.get("MAIL_TIMEOUT") or 15))
