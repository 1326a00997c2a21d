"""The ``alerts`` resource: the alert channels' variables (as EnvVars where they are set, so the UI
shows their names, never a webhook's token or the SMTP password) and the delivery every alert sensor
shares."""

import logging
import os

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.config.pipeline import AlertsSpec
from ai_trader_assets.ops.alerts import (
    Alert,
    AlertDeliveryError,
    AlertEnvironment,
    Notifier,
    build_notifier,
    load_alert_environment,
)
from ai_trader_assets.ops.alerts.environment import (
    ALERT_EMAIL_TO,
    ALERT_WEBHOOK_URL,
    SLACK_WEBHOOK_URL,
    SMTP_URL,
    UI_URL,
)


class AlertsResource(dg.ConfigurableResource):
    """The alert channels that are on (each field holds its variable when set) and the ``alerts``
    section of pipeline.yaml."""

    config_dir: str
    slack_webhook_url: str | None = None  # AI_TRADER_SLACK_WEBHOOK_URL
    webhook_url: str | None = None  # AI_TRADER_ALERT_WEBHOOK_URL
    smtp_url: str | None = None  # AI_TRADER_SMTP_URL
    email_to: str | None = None  # AI_TRADER_ALERT_EMAIL_TO
    ui_url: str | None = None  # AI_TRADER_UI_URL

    def spec(self) -> AlertsSpec:
        return cached_config(self.config_dir).pipeline.alerts

    def environment(self) -> AlertEnvironment:
        return load_alert_environment(
            {
                SLACK_WEBHOOK_URL: self.slack_webhook_url,
                ALERT_WEBHOOK_URL: self.webhook_url,
                SMTP_URL: self.smtp_url,
                ALERT_EMAIL_TO: self.email_to,
                UI_URL: self.ui_url,
            }
        )

    def notifier(self) -> Notifier:
        return build_notifier(self.environment(), self.spec())


def _env_or_none(name: str) -> str | None:
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


def alerts_resource(config_dir: str) -> AlertsResource:
    """The resource from the environment (a malformed variable fails here, naming itself)."""
    load_alert_environment()
    return AlertsResource(
        config_dir=config_dir,
        slack_webhook_url=_env_or_none(SLACK_WEBHOOK_URL),
        webhook_url=_env_or_none(ALERT_WEBHOOK_URL),
        smtp_url=_env_or_none(SMTP_URL),
        email_to=_env_or_none(ALERT_EMAIL_TO),
        ui_url=_env_or_none(UI_URL),
    )


def deliver(
    log: logging.Logger | dg.DagsterLogManager, notifier: Notifier, alerts: list[Alert | None]
) -> int:
    """Send the alerts the incidents produced; how many there were.

    Raises:
        AlertDeliveryError: a channel refused a message. The incidents are recorded already (nothing
            is sent twice); the failed tick shows in the UI and in ``ai-trader health``.
    """
    ready = [alert for alert in alerts if alert is not None]
    if not ready:
        return 0
    if not notifier.configured:
        log.info(f"{len(ready)} incident change(s) recorded; no alert channel is configured")
        return len(ready)
    report = notifier.send(ready)
    for channel in report.channels:
        log.info(
            f"alerts to {channel.channel}: {channel.sent} sent, {channel.summarised} summarised, "
            f"{channel.dropped} dropped by the rate limit"
            + (f", failed: {'; '.join(channel.errors)}" if channel.errors else "")
        )
    if not report.ok:
        raise AlertDeliveryError(f"alerts not delivered: {'; '.join(report.errors)}")
    return len(ready)
