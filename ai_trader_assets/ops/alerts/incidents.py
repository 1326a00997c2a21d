"""Incidents, deduplicated: what a watcher finds becomes an alert only when it changes something.

:meth:`IncidentTracker.fire` opens an incident and returns its alert, or None while it is open
already; :meth:`IncidentTracker.clear` resolves an open one and returns its "resolved" alert, or None.
The state is the ``alert_incidents`` table (:mod:`ai_trader_assets.storage.incidents`), so it holds
across processes and restarts. A transition is recorded before its message is sent: a process that
dies in between loses that message rather than sending it twice.
"""

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from ai_trader_assets.ops.alerts.alert import Alert, Severity, State
from ai_trader_assets.ops.health_report import ago
from ai_trader_assets.storage.incidents import KEY_LENGTH, Incident, IncidentStore


def incident_key(*parts: str) -> str:
    """Parts joined by ``:``; a key too long for the table keeps its start and a digest of the whole."""
    key = ":".join(parts)
    if len(key) <= KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: KEY_LENGTH - len(digest) - 1]}~{digest}"


@dataclasses.dataclass(frozen=True)
class Finding:
    """Something wrong, as a watcher describes it.

    Attributes:
        key: The incident's key (:func:`incident_key`).
        kind: ``run_failure``, ``check``, ``freshness``, ``sensor``, ``schedule``, ``guard``, ``health``.
        severity, title, detail, link: What the alert says.
        labels: What resolving code needs to find the incident again (assets, partition...).
    """

    key: str
    kind: str
    severity: Severity
    title: str
    detail: str
    link: str | None = None
    labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class IncidentTracker:
    """Opens and resolves incidents in ``store``; returns the alerts to send.

    Args:
        store: The incidents table.
        clock: The wall clock (UTC; tests inject one).
    """

    def __init__(self, store: IncidentStore, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.store = store
        self._clock = clock or (lambda: dt.datetime.now(tz=dt.UTC))

    def fire(self, finding: Finding) -> Alert | None:
        """Open the finding's incident; its alert when this opened it, else None (open already)."""
        now = self._clock()
        incident = Incident(
            key=finding.key,
            kind=finding.kind,
            severity=finding.severity.value,
            title=finding.title,
            detail=finding.detail,
            link=finding.link,
            labels=dict(finding.labels),
            opened_at=now,
        )
        if not self.store.open(incident):
            return None
        return Alert(
            key=finding.key,
            state=State.FIRING,
            severity=finding.severity,
            title=finding.title,
            detail=finding.detail,
            link=finding.link,
            time=now,
            opened_at=now,
        )

    def clear(self, key: str, detail: str, link: str | None = None) -> Alert | None:
        """Resolve the open incident ``key``; its "resolved" alert (``detail`` says what cleared it),
        or None when it was not open."""
        now = self._clock()
        resolved = self.store.resolve(key, now)
        if resolved is None:
            return None
        lasted = ago((now - resolved.opened_at).total_seconds())
        return Alert(
            key=key,
            state=State.RESOLVED,
            severity=Severity(resolved.severity),
            title=resolved.title,
            detail=f"{detail} (open for {lasted})",
            link=link or resolved.link,
            time=now,
            opened_at=resolved.opened_at,
        )

    def open_incidents(self, kind: str) -> list[Incident]:
        return self.store.open_incidents(kind)
