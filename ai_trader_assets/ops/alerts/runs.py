"""Findings about runs and asset checks, from plain values (the sensors in ``defs/alerts`` read them
from the Dagster instance).

Keys:

- ``run_failure:<assets>:<partition>``: the assets whose steps failed (sorted, comma-separated; the
  job's name when a run failed before any asset step) and the run's partition: a key, ``first..last``
  for a range, ``-`` for none. A later successful run of the same partition that materializes those
  assets resolves it (a retry of the run, a re-launch from the UI, the next scheduled run of it).
- ``check:<asset>:<check>:<partition>``: a failed check; resolved when the same check passes for the
  same partition. ``guard:universe`` is the universe sync's guard (a refused provider list),
  resolved by the next sync that is applied.
"""

from collections.abc import Iterable, Mapping
from urllib.parse import quote

from ai_trader_assets.ops.alerts.alert import Severity
from ai_trader_assets.ops.alerts.incidents import Finding, incident_key
from ai_trader_assets.ops.alerts.watch import UNIVERSE_GUARD_KEY

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"
# Set on a failed run that Dagster's run retries will launch again.
WILL_RETRY_TAG = "dagster/will_retry"
NO_PARTITION = "-"
IMPLICIT_ASSET_JOB = "__ASSET_JOB"
UNIVERSE_GUARD = ("universe", "universe_guard")  # (asset, check)
MAX_LINE = 300


def partition_spec(tags: Mapping[str, str]) -> str:
    """A run's partition as keys show it: ``2026-11-20|2``, ``2026-11-02|2..2026-11-20|2`` or ``-``."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        return start if start == end else f"{start}..{end}"
    return NO_PARTITION


def error_line(text: str | None) -> str:
    """The first non-empty line, shortened: alerts never carry a traceback."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:MAX_LINE]
    return "no error message"


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url}/runs/{run_id}"


def run_failure_finding(
    *,
    assets: Iterable[str],
    job: str,
    partition: str,
    run_id: str,
    error: str,
    ui_url: str,
    backfill: str | None = None,
) -> Finding:
    """A failed run: which assets (or job), which partition, the error's first line, the run's link."""
    names = sorted(set(assets))
    subject = ",".join(names) if names else job
    where = "" if partition == NO_PARTITION else f" {partition}"
    # Runs launched from the UI or by a backfill belong to Dagster's implicit asset job: not worth naming.
    of_job = "" if job.startswith(IMPLICIT_ASSET_JOB) else f" of job {job}"
    detail = f"{error_line(error)}\nrun {run_id}{of_job}" + (f", backfill {backfill}" if backfill else "")
    return Finding(
        key=incident_key("run_failure", subject, partition),
        kind="run_failure",
        severity=Severity.ERROR,
        title=f"Run failed: {', '.join(names) if names else f'job {job}'}{where}",
        detail=detail,
        link=run_link(ui_url, run_id),
        labels={"assets": names, "job": job, "partition": partition},
    )


def resolves_run_failure(labels: Mapping[str, object], *, assets: set[str], job: str, partition: str) -> bool:
    """Whether a successful run (its assets, job and partition) resolves an open run failure."""
    if labels.get("partition") != partition:
        return False
    failed = labels.get("assets")
    if isinstance(failed, list) and failed:
        return {str(a) for a in failed} <= assets
    return labels.get("job") == job


def check_key(asset: str, check: str, partition: str) -> str:
    if (asset, check) == UNIVERSE_GUARD:
        return UNIVERSE_GUARD_KEY
    return incident_key("check", asset, check, partition)


def check_finding(
    *,
    asset: str,
    check: str,
    partition: str,
    severity: str,
    description: str | None,
    run_id: str | None,
    ui_url: str,
) -> Finding:
    """A failed asset check (``severity``: Dagster's ``ERROR`` or ``WARN``)."""
    where = "" if partition == NO_PARTITION else f" ({partition})"
    detail = error_line(description) if description else f"check {check} did not pass"
    if run_id:
        detail += f"\nrun {run_id}"
    if (asset, check) == UNIVERSE_GUARD:
        title = "Universe sync refused the provider's list (nothing changed)"
    else:
        title = f"Check failed: {asset} {check}{where}"
    return Finding(
        key=check_key(asset, check, partition),
        kind="check",
        severity=Severity.ERROR if severity == "ERROR" else Severity.WARNING,
        title=title,
        detail=detail,
        link=f"{ui_url}/assets/{quote(asset)}?view=checks",
        labels={"asset": asset, "check": check, "partition": partition},
    )
