"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it was sent."""
from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Keeper:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "subject": str(message["Subject"]),
                              "message_id": str(message["Message-ID"]),
                              "body": message.get_content()})
        return "250 Message accepted for delivery"


class SmtpServer:
    """``start()``/``stop()`` can be called again on the same port: the server is "down"
    between them, as a real one would be for the sender."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.keeper = _Keeper()
        self.controller = None

    @property
    def messages(self) -> list[dict]:
        return self.keeper.messages

    def start(self):
        self.controller = Controller(self.keeper, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if address in m["to"]]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages
