"""The alerts' part of the environment contract: which channels are on, where the UI is, and which
values must never appear in an alert.

A channel is on when its variable is set: ``AI_TRADER_SLACK_WEBHOOK_URL``, ``AI_TRADER_ALERT_WEBHOOK_URL``,
``AI_TRADER_SMTP_URL`` with ``AI_TRADER_ALERT_EMAIL_TO`` (comma-separated). ``AI_TRADER_UI_URL`` (default
``http://127.0.0.1:3000``) makes the links. A malformed value fails with a message naming the
variable, never quoting it (the URLs hold tokens and passwords).
"""

import dataclasses
import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ai_trader_assets.ops.alerts.channels import (
    Channel,
    EmailChannel,
    SlackChannel,
    SmtpTarget,
    WebhookChannel,
)
from ai_trader_assets.settings import PROVIDER_KEYS, Secret, SettingsError

SLACK_WEBHOOK_URL = "AI_TRADER_SLACK_WEBHOOK_URL"
ALERT_WEBHOOK_URL = "AI_TRADER_ALERT_WEBHOOK_URL"
SMTP_URL = "AI_TRADER_SMTP_URL"
ALERT_EMAIL_TO = "AI_TRADER_ALERT_EMAIL_TO"
UI_URL = "AI_TRADER_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
ALERT_VARIABLES = (SLACK_WEBHOOK_URL, ALERT_WEBHOOK_URL, SMTP_URL, ALERT_EMAIL_TO, UI_URL)
# Other secrets of the environment contract: redacted from alerts too (a provider's error could quote one).
OTHER_SECRETS = ("AWS_SECRET_ACCESS_KEY", "MASSIVE_S3_SECRET_ACCESS_KEY")
SMTP_PORTS = {"smtp": 25, "smtps": 465}
ADDRESS = re.compile(r"^[^@\s,]+@[^@\s,]+$")


@dataclasses.dataclass(frozen=True)
class AlertEnvironment:
    """The alert channels' settings (secrets held as :class:`Secret`); see :func:`load_alert_environment`."""

    slack_webhook_url: Secret | None = None
    webhook_url: Secret | None = None
    smtp: SmtpTarget | None = None
    email_to: tuple[str, ...] = ()
    ui_url: str = DEFAULT_UI_URL

    def channels(self, timeout: float) -> list[Channel]:
        """The channels that are on, each giving up after ``timeout`` seconds."""
        channels: list[Channel] = []
        if self.slack_webhook_url is not None:
            channels.append(SlackChannel(self.slack_webhook_url, timeout))
        if self.smtp is not None:
            channels.append(EmailChannel(self.smtp, self.email_to, timeout))
        if self.webhook_url is not None:
            channels.append(WebhookChannel(self.webhook_url, timeout))
        return channels

    def secrets(self) -> list[Secret]:
        """The channels' own secrets (redacted from every message)."""
        found = [s for s in (self.slack_webhook_url, self.webhook_url) if s is not None]
        if self.smtp is not None and self.smtp.password is not None:
            found.append(self.smtp.password)
        return found


def _get(env: Mapping[str, str | None], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def _webhook(env: Mapping[str, str | None], name: str) -> Secret | None:
    raw = _get(env, name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} is not an http(s):// URL (its value is not shown: it holds a token)")
    return Secret(raw)


def parse_smtp_url(raw: str) -> SmtpTarget:
    """``smtp://user:pass@host:port?from=addr`` (STARTTLS when offered) or ``smtps://...`` (TLS).

    Raises:
        SettingsError: naming AI_TRADER_SMTP_URL and what is wrong, never quoting it.
    """
    parts = urlsplit(raw)
    if parts.scheme not in SMTP_PORTS:
        raise SettingsError(f"{SMTP_URL} must start with smtp:// or smtps:// (its value is not shown)")
    try:
        port = parts.port or SMTP_PORTS[parts.scheme]
    except ValueError:
        raise SettingsError(f"{SMTP_URL} has a port that is not a number (its value is not shown)") from None
    if not parts.hostname:
        raise SettingsError(f"{SMTP_URL} names no host: expected smtp://user:password@host:port")
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    query = parse_qs(parts.query)
    sender = query["from"][0] if query.get("from") else None
    if sender is None:
        sender = username if username and ADDRESS.match(username) else f"ai-trader@{parts.hostname}"
    if not ADDRESS.match(sender):
        raise SettingsError(f"{SMTP_URL}: from={sender!r} is not an e-mail address")
    tls = "smtps" if parts.scheme == "smtps" else "starttls"
    return SmtpTarget(tls, parts.hostname, port, username, password, sender)


def _recipients(env: Mapping[str, str | None]) -> tuple[str, ...]:
    raw = _get(env, ALERT_EMAIL_TO)
    if raw is None:
        return ()
    recipients = tuple(part.strip() for part in raw.split(",") if part.strip())
    wrong = [r for r in recipients if not ADDRESS.match(r)]
    if wrong or not recipients:
        raise SettingsError(
            f"{ALERT_EMAIL_TO}: {', '.join(map(repr, wrong)) or 'no address'}: expected comma-separated "
            "e-mail addresses"
        )
    return recipients


def load_alert_environment(environ: Mapping[str, str | None] | None = None) -> AlertEnvironment:
    """Read the alert variables (default: the process environment).

    Raises:
        SettingsError: a malformed value, or only one of AI_TRADER_SMTP_URL and AI_TRADER_ALERT_EMAIL_TO.
    """
    env: Mapping[str, str | None] = os.environ if environ is None else environ
    smtp_raw = _get(env, SMTP_URL)
    recipients = _recipients(env)
    if smtp_raw is not None and not recipients:
        raise SettingsError(f"{SMTP_URL} is set but {ALERT_EMAIL_TO} is not: who should get the e-mails?")
    if smtp_raw is None and recipients:
        raise SettingsError(f"{ALERT_EMAIL_TO} is set but {SMTP_URL} is not: which server sends them?")
    ui_url = _get(env, UI_URL) or DEFAULT_UI_URL
    if not ui_url.startswith(("http://", "https://")):
        raise SettingsError(f"{UI_URL}={ui_url!r}: expected the Dagster UI's http(s):// address")
    return AlertEnvironment(
        slack_webhook_url=_webhook(env, SLACK_WEBHOOK_URL),
        webhook_url=_webhook(env, ALERT_WEBHOOK_URL),
        smtp=parse_smtp_url(smtp_raw) if smtp_raw is not None else None,
        email_to=recipients,
        ui_url=ui_url.rstrip("/"),
    )


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[Secret]:
    """The rest of the environment's secrets: provider keys, S3 secret keys, the market database's
    password (an error a run reports could quote one; alerts redact them)."""
    env = os.environ if environ is None else environ
    # A user agent is a key variable but no secret (and often a common word).
    keys = [name for names in PROVIDER_KEYS.values() for name in names if not name.endswith("USER_AGENT")]
    names = keys + list(OTHER_SECRETS)
    found = [Secret(value) for name in names if (value := _get(env, name)) is not None]
    database_url = _get(env, "AI_TRADER_DATABASE_URL")
    if database_url is not None:
        try:
            password = make_url(database_url).password
        except ArgumentError:
            password = None
        if password:
            found.append(Secret(str(password)))
    return found
