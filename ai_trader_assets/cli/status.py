"""``ai-trader retention`` and ``ai-trader status``."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated

import typer
from rich.table import Table

from ai_trader_assets.cli.common import (
    cli_run_id,
    console,
    dagster_instance,
    market_database,
    progress_bar,
)
from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import INGESTED_DATASETS
from ai_trader_assets.run_tags import LAUNCHED_BY_TAG
from ai_trader_assets.settings import Settings, load_settings
from ai_trader_assets.storage.lake.location import lake_from_settings


def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
) -> None:
    """Apply the retention policy now (what the daily enforce_retention job does)."""
    from ai_trader_assets.storage.retention import RetentionEngine

    with market_database() as database:
        settings = load_settings()
        engine = RetentionEngine(
            database,
            lake_from_settings(settings),
            cached_config(str(settings.config_dir)),
            settings.today(),
            run_id=cli_run_id("retention"),
        )
        with progress_bar() as progress:
            task = progress.add_task("retention", total=len(INGESTED_DATASETS))
            counts = engine.run(dry_run=dry_run, on_done=lambda d: progress.update(task, advance=1))
    table = Table(
        "dataset",
        "layer",
        "moved",
        "verified",
        "deleted",
        "kept",
        "unverified",
        "purged",
        "copied to hot",
        title=f"retention {'(dry run) ' if dry_run else ''}as of {settings.today()}",
    )
    for (dataset, layer), c in sorted(counts.items()):
        table.add_row(
            dataset,
            layer,
            *(str(v) for v in (c.moved, c.verified, c.deleted, c.kept, c.unverified, c.purged, c.warmed)),
        )
    console.print(table if counts else "nothing to do: no hot or cold data is past its window")


def status() -> None:
    """Layers, coverage of each retention window, hot and cold footprint, quarantine."""
    from ai_trader_assets.ops.status import build_status

    with market_database() as database:
        settings = load_settings()
        report = build_status(
            database, lake_from_settings(settings), cached_config(str(settings.config_dir)), settings.today()
        )
    layers = Table("layer", "symbols", title="layers")
    for layer in (3, 2, 1, 0, None):
        layers.add_row("none" if layer is None else str(layer), str(report.layers.get(layer, 0)))
    coverage = Table(
        "dataset", "layer", "members", "sessions in window", "complete", "missing", title="coverage"
    )
    for c in report.coverage:
        coverage.add_row(
            c.dataset,
            str(c.layer),
            str(c.members),
            str(c.sessions),
            str(c.complete),
            str(c.sessions - c.complete),
        )
    footprint = Table(
        "dataset",
        "hot rows",
        "cold files",
        "cold MiB",
        "version",
        "versions",
        "oldest session",
        "newest session",
        "quarantined",
        title="storage (cold: one Delta table per dataset)",
    )
    for f in report.footprint:
        cold = f.cold
        footprint.add_row(
            f.dataset,
            str(f.hot_rows),
            str(cold.files),
            f"{cold.bytes / 2**20:.1f}",
            "-" if cold.version is None else str(cold.version),
            str(cold.versions),
            str(cold.oldest_session or "-"),
            str(cold.newest_session or "-"),
            str(f.quarantined),
        )
    for table in (layers, coverage, footprint):
        console.print(table)
    _print_latest_runs(settings)


def _print_latest_runs(settings: Settings, limit: int = 10) -> None:
    """The newest runs of the Dagster instance at DAGSTER_HOME (what the UI's Runs page lists first)."""
    if not settings.dagster_home.is_dir():
        console.print(f"no Dagster instance at {settings.dagster_home} yet: no runs")
        return
    with dagster_instance(settings) as instance:
        records = instance.get_run_records(limit=limit)
    runs = Table("run", "status", "started (UTC)", "assets", "partitions", "launched by", title="latest runs")
    for record in records:
        run, tags = record.dagster_run, record.dagster_run.tags
        start, end = (
            tags.get("dagster/asset_partition_range_start"),
            tags.get("dagster/asset_partition_range_end"),
        )
        partitions = f"{start}..{end}" if start else tags.get("dagster/partition", "-")
        started = dt.datetime.fromtimestamp(record.start_time, tz=dt.UTC) if record.start_time else None
        runs.add_row(
            run.run_id[:8],
            run.status.value,
            started.strftime("%Y-%m-%d %H:%M") if started else "-",
            ", ".join(k.to_user_string() for k in sorted(run.asset_selection or [])) or run.job_name,
            partitions,
            _launcher(tags),
        )
    console.print(runs if records else "no runs yet")


def _launcher(tags: Mapping[str, str]) -> str:
    if "dagster/backfill" in tags:
        return f"backfill {tags['dagster/backfill']}"
    if "dagster/sensor_name" in tags:
        return f"sensor {tags['dagster/sensor_name']}"
    if "dagster/schedule_name" in tags:
        return f"schedule {tags['dagster/schedule_name']}"
    if tags.get(LAUNCHED_BY_TAG) == "cli":
        return "ai-trader backfill"
    return "manual"
