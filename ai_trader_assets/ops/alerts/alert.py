"""One alert message and how each channel shows it: a line of text for Slack, a subject and a body for
e-mail, and the JSON body of the generic webhook (its fields are the contract a pager relies on).

The webhook body (``version`` 1)::

    {
      "version": 1,
      "source": "ai_trader_assets",
      "incident_key": "run_failure:bars_1day:2026-11-20|2",   # stable: dedupe and resolve on it
      "state": "firing" | "resolved",
      "severity": "critical" | "error" | "warning" | "info",
      "title": "Run failed: bars_1day 2026-11-20|2",
      "detail": "ProviderError: polygon: HTTP 500 after 4 attempts ...",
      "link": "http://127.0.0.1:3000/runs/<run id>",           # or null
      "time": "2026-11-21T08:00:03+00:00",                     # when this message was made (UTC)
      "opened_at": "2026-11-21T08:00:03+00:00"                 # when the incident opened
    }

A burst over a channel's rate limit ends in one summary message: its key is
``rate_limit_summary:<time>``, it never resolves, and its body adds ``"summarised": [...]``, the bodies
of the alerts it stands for, so a receiver that tracks incidents can unpack them.
"""

import dataclasses
import datetime as dt
import enum
from typing import Any

SOURCE = "ai_trader_assets"
WEBHOOK_VERSION = 1
SUBJECT_PREFIX = "[ai-trader]"


class State(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    """From worst to mildest; a burst over the rate limit sends the worst first."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


SLACK_MARKS = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.ERROR: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}


@dataclasses.dataclass(frozen=True)
class Alert:
    """One message about an incident.

    Attributes:
        key: The incident's stable key (``run_failure:<assets>:<partition>``, ``freshness:<dataset>:
            layer_<n>``...): a receiver deduplicates on it and pairs a resolution with its opening.
        state: Firing (the incident opened) or resolved (it cleared).
        severity: How bad.
        title: One line naming what and where (asset, partition, dataset and layer, sensor).
        detail: What is known: the first line of the error, the lag, the check's description.
        link: Where to look (the run or asset in the Dagster UI), or None.
        time: When the message was made (UTC).
        opened_at: When the incident opened (UTC).
        summarised: For a rate limit's summary message, the alerts it stands for.
    """

    key: str
    state: State
    severity: Severity
    title: str
    detail: str
    link: str | None
    time: dt.datetime
    opened_at: dt.datetime
    summarised: tuple["Alert", ...] = ()

    def webhook_body(self) -> dict[str, Any]:
        """The generic webhook's JSON body (see the module's docstring)."""
        body: dict[str, Any] = {
            "version": WEBHOOK_VERSION,
            "source": SOURCE,
            "incident_key": self.key,
            "state": self.state.value,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "link": self.link,
            "time": self.time.astimezone(dt.UTC).isoformat(),
            "opened_at": self.opened_at.astimezone(dt.UTC).isoformat(),
        }
        if self.summarised:
            body["summarised"] = [alert.webhook_body() for alert in self.summarised]
        return body

    @property
    def headline(self) -> str:
        """``FIRING error: <title>`` / ``RESOLVED: <title>``."""
        if self.state == State.RESOLVED:
            return f"RESOLVED: {self.title}"
        return f"FIRING {self.severity.value}: {self.title}"

    def slack_text(self) -> str:
        """Slack's ``text`` (mrkdwn): the headline, the detail, the link."""
        mark = ":large_green_circle:" if self.state == State.RESOLVED else SLACK_MARKS[self.severity]
        lines = [f"{mark} *{_slack_escape(self.headline)}*", _slack_escape(self.detail)]
        if self.link:
            lines.append(f"<{self.link}|Open in Dagster>")
        lines.append(f"incident `{_slack_escape(self.key)}`")
        return "\n".join(line for line in lines if line)

    def email_subject(self) -> str:
        return " ".join(f"{SUBJECT_PREFIX} {self.headline}".split())[:200]

    def email_body(self) -> str:
        lines = [self.headline, "", self.detail, ""]
        if self.link:
            lines.append(f"Open in Dagster: {self.link}")
        lines += [
            f"Incident: {self.key}",
            f"Opened: {self.opened_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC",
            f"Sent: {self.time.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC",
        ]
        return "\n".join(lines) + "\n"


def _slack_escape(text: str) -> str:
    """Slack's three control characters (a run's error can hold ``<`` and ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary(held_back: list[Alert], at: dt.datetime, limit: int) -> Alert:
    """One message standing for the alerts a rate limit held back."""
    shown = 20
    lines = [f"[{a.state.value}] {a.title}" for a in held_back[:shown]]
    if len(held_back) > shown:
        lines.append(f"... and {len(held_back) - shown} more")
    worst = min((a.severity for a in held_back), key=lambda s: s.rank)
    return Alert(
        key=f"rate_limit_summary:{at.astimezone(dt.UTC):%Y%m%dT%H%M%S}",
        state=State.FIRING,
        severity=worst,
        title=f"{len(held_back)} more alert(s) in one message (rate limit: {limit} per minute)",
        detail="\n".join(lines),
        link=None,
        time=at,
        opened_at=at,
        summarised=tuple(held_back),
    )
