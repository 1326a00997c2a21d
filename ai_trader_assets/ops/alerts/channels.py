"""The three alert channels: a Slack incoming webhook, e-mail over SMTP and a generic JSON webhook.

Each sends one message per call, one attempt within ``timeout`` seconds, and raises
:class:`ChannelError` naming itself and the HTTP status or the class of the error, nothing else: a
webhook's URL is its token and an SMTP URL holds a password, so neither appears in a message, a log
line, a repr or an error (the original exception, whose text may quote the URL, is not chained).

HTTP goes through the standard library's ``urllib.request`` rather than requests/urllib3: urllib3
logs each request line, path included, at DEBUG level, and a Slack webhook's path is its secret.
"""

import dataclasses
import email.utils
import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, Protocol

from ai_trader_assets.ops.alerts.alert import Alert
from ai_trader_assets.settings import Secret

USER_AGENT = "ai-trader-alerts/1"


class ChannelError(RuntimeError):
    """A channel did not take a message: ``<channel>: HTTP 404`` or ``<channel>: <error class>``."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


class Channel(Protocol):
    """Where alerts go. ``name`` is what reports and errors call it (``slack``, ``email``, ``webhook``)."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None:
        """Deliver one alert, or raise :class:`ChannelError`."""
        ...


def post_json(channel: str, url: Secret, body: dict[str, Any], timeout: float) -> None:
    """POST ``body`` as JSON; any 2xx answer is success.

    Raises:
        ChannelError: the status of a non-2xx answer, or the class of the network error.
    """
    request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked (http/https) when it is read
        url.reveal(),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    reason: str | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
            response.read()
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
        exc.close()
    except urllib.error.URLError as exc:
        # ``reason`` is the socket's error (refused, timed out, unknown host), or a string quoting the URL.
        reason = type(exc.reason).__name__ if isinstance(exc.reason, BaseException) else "URLError"
    except (OSError, http.client.HTTPException) as exc:
        reason = type(exc).__name__
    if reason is not None:
        # Raised outside the handler: the caught exception (its text may hold the URL) is not attached.
        raise ChannelError(channel, reason)


@dataclasses.dataclass(frozen=True)
class SlackChannel:
    """A Slack incoming webhook (``AI_TRADER_SLACK_WEBHOOK_URL``): ``{"text": ...}`` in mrkdwn."""

    url: Secret
    timeout: float
    name: str = "slack"

    def send(self, alert: Alert) -> None:
        post_json(self.name, self.url, {"text": alert.slack_text()}, self.timeout)


@dataclasses.dataclass(frozen=True)
class WebhookChannel:
    """A generic JSON webhook (``AI_TRADER_ALERT_WEBHOOK_URL``): :meth:`Alert.webhook_body`."""

    url: Secret
    timeout: float
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        post_json(self.name, self.url, alert.webhook_body(), self.timeout)


@dataclasses.dataclass(frozen=True)
class SmtpTarget:
    """An SMTP server from ``AI_TRADER_SMTP_URL`` (``smtp://user:pass@host:port?from=addr``).

    Attributes:
        tls: ``smtps`` (TLS from the first byte) or ``starttls`` (plain, upgraded when the server
            offers STARTTLS).
        host, port: The server.
        username, password: The login, when the URL has one.
        sender: The From address (``?from=``; else the user name when it is an address).
    """

    tls: str
    host: str
    port: int
    username: str | None
    password: Secret | None
    sender: str


@dataclasses.dataclass(frozen=True)
class EmailChannel:
    """E-mail over SMTP to ``AI_TRADER_ALERT_EMAIL_TO`` (standard library ``smtplib``)."""

    server: SmtpTarget
    recipients: Sequence[str]
    timeout: float
    name: str = "email"

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = alert.email_subject()
        message["From"] = self.server.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = email.utils.format_datetime(alert.time)
        message["Message-ID"] = email.utils.make_msgid(domain=self.server.sender.rpartition("@")[2] or None)
        message.set_content(alert.email_body())
        return message

    def send(self, alert: Alert) -> None:
        server = self.server
        reason: str | None = None
        try:
            client: smtplib.SMTP
            if server.tls == "smtps":
                context = ssl.create_default_context()
                client = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if server.tls == "starttls" and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if server.username is not None:
                    password = server.password.reveal() if server.password is not None else ""
                    client.login(server.username, password)
                client.send_message(
                    self.message(alert), from_addr=server.sender, to_addrs=list(self.recipients)
                )
        except smtplib.SMTPException as exc:
            code = getattr(exc, "smtp_code", None)
            reason = type(exc).__name__ + (f" ({code})" if isinstance(code, int) else "")
        except OSError as exc:  # refused, timed out, unknown host, a TLS handshake that failed
            reason = type(exc).__name__
        if reason is not None:
            raise ChannelError(self.name, reason)
