"""Alerts, no Dagster: one notifier with three channels (Slack, e-mail, a generic JSON webhook), and
incidents that alert once when they open and once when they resolve.

- :mod:`.alert`: the message and how each channel shows it (the webhook's JSON contract);
- :mod:`.channels`: Slack, SMTP e-mail and webhook delivery (secrets never in an error);
- :mod:`.environment`: the variables that turn channels on;
- :mod:`.notifier`: every channel, a rate limit each, secrets redacted;
- :mod:`.incidents`: open/resolve against the ``alert_incidents`` table;
- :mod:`.runs`, :mod:`.watch`: what failed runs, failed checks and the health checks become.

The sensors that feed them are in ``ai_trader_assets/defs/alerts``; ``ai-trader alerts test`` sends
one test alert through :func:`send_test_alert`.
"""

import datetime as dt
from collections.abc import Mapping

from ai_trader_assets.config.pipeline import AlertsSpec
from ai_trader_assets.ops.alerts.alert import Alert, Severity, State
from ai_trader_assets.ops.alerts.environment import (
    AlertEnvironment,
    environment_secrets,
    load_alert_environment,
)
from ai_trader_assets.ops.alerts.incidents import Finding, IncidentTracker
from ai_trader_assets.ops.alerts.notifier import (
    AlertDeliveryError,
    ChannelReport,
    DeliveryReport,
    Notifier,
    RateWindows,
)

__all__ = [
    "Alert",
    "AlertDeliveryError",
    "AlertEnvironment",
    "ChannelReport",
    "DeliveryReport",
    "Finding",
    "IncidentTracker",
    "Notifier",
    "RateWindows",
    "Severity",
    "State",
    "build_notifier",
    "load_alert_environment",
    "send_test_alert",
]


def build_notifier(
    environment: AlertEnvironment, spec: AlertsSpec, environ: Mapping[str, str] | None = None
) -> Notifier:
    """The notifier of the channels that are on, redacting their secrets and the environment's."""
    return Notifier(
        environment.channels(spec.timeout_seconds),
        max_per_minute=spec.max_messages_per_minute,
        secrets=[*environment.secrets(), *environment_secrets(environ)],
    )


def send_test_alert(notifier: Notifier, ui_url: str) -> DeliveryReport:
    """One test alert to every configured channel (``ai-trader alerts test``)."""
    now = dt.datetime.now(tz=dt.UTC)
    alert = Alert(
        key=f"test:{now:%Y%m%dT%H%M%S}",
        state=State.FIRING,
        severity=Severity.INFO,
        title="Test alert from ai-trader",
        detail="Sent by 'ai-trader alerts test': this channel receives the platform's alerts.",
        link=ui_url,
        time=now,
        opened_at=now,
    )
    return notifier.send([alert])
