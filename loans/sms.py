"""SMS gateways: where a reminder's text leaves the ledger.

Every gateway has one method, ``send(to, text) -> provider_id``, and raises
``GatewayError`` when the message was not accepted, so ``loans.reminders.send_due`` can
retry later. Which one is used is a setting (``SMS_BACKEND``): ``console`` for development
and training laptops, ``http`` for a provider that takes JSON over HTTPS.
"""
from __future__ import annotations

import json
import logging
import uuid
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """The gateway did not take the message (down, refused, timed out)."""


class ConsoleGateway:
    """Writes the message to the log instead of sending it: nothing leaves the machine."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, text: str) -> str:
        provider_id = f"console-{uuid.uuid4().hex[:12]}"
        self.sent.append((provider_id, to, text))
        log.info("SMS to %s (%s): %s", to, provider_id, text)
        return provider_id


class HttpJsonGateway:
    """POST ``{"to": ..., "text": ...}`` with a bearer key; any 2xx answer is accepted.

    The provider's id is read from the answer's ``id`` (or ``message_id``) when it sends
    JSON. The timeout is short: a reminder that cannot go now goes on the next run.
    """

    def __init__(self, url: str, key: str | None = None, timeout: float = 10.0):
        if not url:
            raise ValueError("SMS_GATEWAY_URL is not set")
        self.url, self.key, self.timeout = url, key, timeout

    def send(self, to: str, text: str) -> str | None:
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"HTTP {exc.code} from the SMS gateway") from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            reason = getattr(exc, "reason", exc)
            raise GatewayError(f"SMS gateway unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise GatewayError(f"HTTP {status} from the SMS gateway")
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else {}
        except (ValueError, UnicodeDecodeError):
            answer = {}
        if isinstance(answer, dict):
            found = answer.get("id") or answer.get("message_id")
            if found is not None:
                return str(found)
        return None


def gateway_from_config(config) -> ConsoleGateway | HttpJsonGateway:
    """The gateway the settings name: SMS_BACKEND (console | http), SMS_GATEWAY_URL,
    SMS_GATEWAY_KEY, SMS_GATEWAY_TIMEOUT."""
    backend = (config.get("SMS_BACKEND") or "console").lower()
    if backend == "console":
        return ConsoleGateway()
    if backend == "http":
        return HttpJsonGateway(config.get("SMS_GATEWAY_URL"), config.get("SMS_GATEWAY_KEY"),
                               timeout=float(config.get("SMS_GATEWAY_TIMEOUT", 10)))
    raise ValueError(f"unknown SMS_BACKEND {backend!r}: use console or http")
