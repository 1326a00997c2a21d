"""The one notifier: every alert to every channel that is on, within each channel's rate limit, with
every known secret redacted first.

**Rate limit**, per channel: at most ``max_per_minute`` messages in any 60 seconds. A batch that does
not fit is **summarised** while room is left: the worst alerts go out one by one and the rest as one
summary message in the last free slot. With no slot left the batch is **dropped** for that channel with
a warning naming the incident keys (the incidents themselves are recorded all the same, so their
resolution is still told later). The windows live in the process (the code server that evaluates
every sensor): a second process, such as ``ai-trader alerts test``, has windows of its own.

**Failures**: one attempt per message and channel. A channel that fails does not stop the others; the
:class:`DeliveryReport` names each failure (``slack: HTTP 500``) and the sensors fail their tick with
it, so the UI and ``ai-trader health`` show that alerts are not getting through.
"""

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from ai_trader_assets.ops.alerts.alert import Alert, summary
from ai_trader_assets.ops.alerts.channels import Channel, ChannelError
from ai_trader_assets.settings import Secret

log = logging.getLogger("ai_trader_assets.alerts")

PERIOD_SECONDS = 60.0
REDACTED = "********"
# Shorter values are not redacted: replacing every "abc" in a message would garble it, and a secret
# that short protects nothing anyway.
MIN_SECRET_LENGTH = 6


class RateWindow:
    """A sliding window of send times: at most ``limit`` in any ``period`` seconds (thread-safe)."""

    def __init__(self, limit: int, period: float = PERIOD_SECONDS) -> None:
        self.limit = limit
        self.period = period
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def reserve(self, wanted: int, now: float) -> int:
        """Take up to ``wanted`` slots at ``now``; how many were granted."""
        with self._lock:
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            granted = max(0, min(wanted, self.limit - len(self._sent)))
            self._sent.extend([now] * granted)
            return granted


class RateWindows:
    """The process's windows, one per channel name and limit."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], RateWindow] = {}
        self._lock = threading.Lock()

    def get(self, channel: str, limit: int) -> RateWindow:
        with self._lock:
            return self._windows.setdefault((channel, limit), RateWindow(limit))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


PROCESS_WINDOWS = RateWindows()


@dataclasses.dataclass(frozen=True)
class ChannelReport:
    """What one channel did with a batch.

    Attributes:
        channel: Its name.
        sent: Messages it accepted (a summary counts as one).
        summarised: Alerts that went out inside a summary message.
        dropped: Alerts not sent at all (no slot left in the window).
        errors: One line per message it refused (``slack: HTTP 500``).
    """

    channel: str
    sent: int = 0
    summarised: int = 0
    dropped: int = 0
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclasses.dataclass(frozen=True)
class DeliveryReport:
    channels: tuple[ChannelReport, ...] = ()

    @property
    def errors(self) -> list[str]:
        return [error for report in self.channels for error in report.errors]

    @property
    def ok(self) -> bool:
        return not self.errors


class AlertDeliveryError(RuntimeError):
    """Some channel refused a message (the message names each channel and its status or error class)."""


class Notifier:
    """Sends alerts to every configured channel.

    Args:
        channels: The channels that are on (:meth:`AlertEnvironment.channels`).
        max_per_minute: Each channel's rate limit.
        secrets: Values never to send (the channels' own are added by the caller, with the
            environment's: :func:`environment_secrets`).
        windows: Where the rate windows live (default: the process's).
        clock: Monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        max_per_minute: int,
        secrets: Iterable[Secret] = (),
        windows: RateWindows = PROCESS_WINDOWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = list(channels)
        self.max_per_minute = max_per_minute
        values = {s.reveal() for s in secrets}
        # Longest first: a secret containing another is replaced whole.
        self._secrets = sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        self._windows = windows
        self._clock = clock

    @property
    def configured(self) -> list[str]:
        return [channel.name for channel in self.channels]

    def redact(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, REDACTED)
        return text

    def _redacted(self, alert: Alert) -> Alert:
        return dataclasses.replace(
            alert,
            key=self.redact(alert.key),
            title=self.redact(alert.title),
            detail=self.redact(alert.detail),
            link=self.redact(alert.link) if alert.link else alert.link,
        )

    def send(self, alerts: Sequence[Alert]) -> DeliveryReport:
        """Send ``alerts`` to every channel (the worst first when the rate limit cuts the batch)."""
        if not alerts or not self.channels:
            return DeliveryReport()
        ordered = sorted((self._redacted(a) for a in alerts), key=lambda a: a.severity.rank)
        return DeliveryReport(tuple(self._send_to(channel, ordered) for channel in self.channels))

    def _send_to(self, channel: Channel, alerts: list[Alert]) -> ChannelReport:
        granted = self._windows.get(channel.name, self.max_per_minute).reserve(len(alerts), self._clock())
        if granted == 0:
            log.warning(
                "alerts: %s: rate limit of %d message(s) per minute reached; dropped %d alert(s): %s",
                channel.name,
                self.max_per_minute,
                len(alerts),
                ", ".join(f"{a.key} ({a.state.value})" for a in alerts),
            )
            return ChannelReport(channel.name, dropped=len(alerts))
        if granted >= len(alerts):
            one_by_one, held_back = alerts, []
        else:
            one_by_one, held_back = alerts[: granted - 1], alerts[granted - 1 :]
            log.warning(
                "alerts: %s: rate limit of %d message(s) per minute: %d alert(s) summarised in one message",
                channel.name,
                self.max_per_minute,
                len(held_back),
            )
        messages = one_by_one + (
            [summary(held_back, alerts[0].time, self.max_per_minute)] if held_back else []
        )
        errors = []
        for message in messages:
            try:
                channel.send(message)
            except ChannelError as exc:
                errors.append(str(exc))
                log.warning("alerts: %s not delivered: %s", message.key, exc)
            else:
                log.info("alerts: %s %s sent to %s", message.key, message.state.value, channel.name)
        return ChannelReport(
            channel.name,
            sent=len(messages) - len(errors),
            summarised=len(held_back),
            errors=tuple(errors),
        )
