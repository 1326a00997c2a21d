"""What ``ai-trader health`` reports: checks, each ok / degraded / down with a one-line detail and, where
one is useful, a number (an age in seconds, rows, bytes) that the metrics endpoint exports as is."""

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any


class Status(enum.StrEnum):
    """A check's verdict, from best to worst; its exit code is what ``ai-trader health`` returns."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Status.OK: 0, Status.DEGRADED: 1, Status.DOWN: 2}


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=lambda s: s.severity, default=Status.OK)


@dataclasses.dataclass(frozen=True)
class Check:
    """One check.

    Attributes:
        name: Unique in a report: the kind and its labels (``freshness:bars_1day:layer_2``).
        kind: What is checked (``database``, ``lake_table``, ``freshness``...): a metric's name.
        status: The verdict.
        detail: One line naming what is wrong (dataset, layer, lag...) or what was found.
        value: The check's number, in ``unit`` (None when there is none, e.g. never happened).
        unit: ``seconds``, ``rows``, ``bytes``, ``commits``, ``symbols`` or ``milliseconds``.
        labels: What the check is about (``dataset``, ``layer``, ``instigator``, ``provider``...).
        measures: Further numbers (name -> value, units in the names: ``checkpoint_age_seconds``).
    """

    name: str
    kind: str
    status: Status
    detail: str
    value: float | None = None
    unit: str = ""
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    measures: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value,
            "detail": self.detail,
            "value": self.value,
            "unit": self.unit,
            "labels": dict(self.labels),
            "measures": dict(self.measures),
        }


def check(
    kind: str,
    status: Status,
    detail: str,
    *,
    value: float | None = None,
    unit: str = "",
    measures: Mapping[str, float] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Check:
    """A :class:`Check` named after its kind and label values (``freshness:bars_1day:layer_2``)."""
    labels = dict(labels or {})
    name = ":".join([kind, *(f"layer_{v}" if k == "layer" else v for k, v in labels.items())])
    return Check(name, kind, status, detail, value, unit, labels, dict(measures or {}))


@dataclasses.dataclass(frozen=True)
class HealthReport:
    """Every check; the platform is as healthy as its worst check."""

    checks: list[Check]

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded, 2 down."""
        return self.status.exit_code

    def counts(self) -> dict[Status, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in Status}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "checks": [c.to_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def ago(seconds: float) -> str:
    """An age for a detail line: ``45 s``, ``12 min``, ``3.5 h``, ``2.1 d``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def first_line(exc: BaseException) -> str:
    """An error's first line, shortened (never a traceback in a detail)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
