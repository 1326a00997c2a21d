"""What the periodic watch alerts on, from the checks of ``ai-trader health`` (``ops/health.py``):

- ``freshness:<dataset>:layer_<n>``: a layer's members lack the latest session of a dataset;
- ``sensor:<name>`` / ``schedule:<name>``: an instigator's last tick failed, or it stopped ticking
  (or missed a cron tick). A sensor cannot watch itself stop; the daemon is ``ai-trader health``'s;
- ``guard:demotion``: the qualification sensor stopped by its demotion guard (then its own
  ``sensor:qualification_sensor`` incident is not raised as well);
- ``health:<kind>``: checks of that kind could not be evaluated (the database unreachable...). Until
  they can, that kind's open incidents are left as they are: nothing resolves because nothing was seen.

A check that is not ok opens its incident (the key is the check's name); an ok one resolves it.
"""

import dataclasses
from collections.abc import Iterable
from urllib.parse import quote

from ai_trader_assets.ops.alerts.alert import Severity
from ai_trader_assets.ops.alerts.incidents import Finding
from ai_trader_assets.ops.health_report import Check, Status

WATCHED_KINDS = ("freshness", "sensor", "schedule")
DEMOTION_GUARD_KEY = "guard:demotion"
UNIVERSE_GUARD_KEY = "guard:universe"
QUALIFICATION_SENSOR = "qualification_sensor"


@dataclasses.dataclass(frozen=True)
class Watch:
    """One evaluation: findings to open, and open incidents to resolve (key, what cleared it)."""

    findings: list[Finding]
    cleared: list[tuple[str, str]]


def instigator_link(ui_url: str, location: str, kind: str, name: str) -> str:
    """The sensor's or schedule's page in the Dagster UI (``kind``: ``sensor`` or ``schedule``)."""
    return f"{ui_url}/locations/{quote(location)}/{kind}s/{quote(name)}"


def _severity(check: Check) -> Severity:
    if check.status == Status.DOWN:
        return Severity.CRITICAL
    # Late data is worth a look; automation that stopped means nothing happens unattended any more.
    return Severity.WARNING if check.kind == "freshness" else Severity.ERROR


def _title(check: Check) -> str:
    labels = check.labels
    if check.kind == "freshness":
        return f"Data behind: {labels.get('dataset')} layer {labels.get('layer')}"
    name = labels.get("instigator", "?")
    kind = check.kind.capitalize()
    if check.detail.startswith("its last tick failed"):
        return f"{kind} {name} is failing"
    if check.detail.startswith("missed its tick"):
        return f"{kind} {name} missed a tick"
    return f"{kind} {name} stopped ticking"


def _link(check: Check, ui_url: str, location: str) -> str:
    if check.kind == "freshness":
        return f"{ui_url}/assets/{quote(str(check.labels.get('dataset')))}"
    return instigator_link(ui_url, location, check.kind, str(check.labels.get("instigator")))


def watch(
    checks: Iterable[Check],
    open_keys: set[str],
    *,
    ui_url: str,
    location: str,
    guard_holds: str | None = None,
    guard_known: bool = True,
) -> Watch:
    """Findings and resolutions from health checks.

    Args:
        checks: The health checks (other kinds than :data:`WATCHED_KINDS` are ignored).
        open_keys: The open incidents' keys (only those can be resolved).
        ui_url, location: For the links (the Dagster UI and this code location's name).
        guard_holds: The demotion guard's message when it stopped the qualification sensor, else None.
        guard_known: Whether the sensor's last tick could be read (if not, an open guard incident stays).
    """
    findings: list[Finding] = []
    cleared: list[tuple[str, str]] = []
    unevaluated: set[str] = set()
    for check in checks:
        if check.kind not in WATCHED_KINDS:
            continue
        if not check.labels:  # the one check health reports when a kind could not be evaluated
            unevaluated.add(check.kind)
            findings.append(
                Finding(
                    key=f"health:{check.kind}",
                    kind="health",
                    severity=Severity.CRITICAL if check.status == Status.DOWN else Severity.ERROR,
                    title=f"Cannot check {check.kind}",
                    detail=check.detail,
                    link=None,
                )
            )
            continue
        if guard_holds is not None and check.labels.get("instigator") == QUALIFICATION_SENSOR:
            continue  # told as the guard below, not as a failing sensor
        if check.status != Status.OK:
            findings.append(
                Finding(
                    key=check.name,
                    kind=check.kind,
                    severity=_severity(check),
                    title=_title(check),
                    detail=check.detail,
                    link=_link(check, ui_url, location),
                    labels=dict(check.labels),
                )
            )
        elif check.name in open_keys:
            cleared.append((check.name, check.detail))
    for kind in WATCHED_KINDS:
        if kind not in unevaluated and f"health:{kind}" in open_keys:
            cleared.append((f"health:{kind}", f"{kind} can be checked again"))
    if guard_holds is not None:
        findings.append(
            Finding(
                key=DEMOTION_GUARD_KEY,
                kind="guard",
                severity=Severity.ERROR,
                title="Qualification sensor stopped by its demotion guard",
                detail=guard_holds,
                link=instigator_link(ui_url, location, "sensor", QUALIFICATION_SENSOR),
            )
        )
    elif guard_known and DEMOTION_GUARD_KEY in open_keys:
        cleared.append((DEMOTION_GUARD_KEY, "the qualification sensor proceeds (the guard was released)"))
    return Watch(findings, cleared)
