"""``ai-trader lake``: maintain, read the history of, and migrate the Delta tables of the lake."""

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from ai_trader_assets.cli.common import (
    cli_run_id,
    console,
    fail,
    market_database,
    progress_bar,
)
from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import INGESTED_DATASETS, Dataset
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.lake.location import lake_from_settings

app = typer.Typer(help="The lake's Delta tables: maintenance, history, migration.", no_args_is_help=True)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; change nothing.")]


@app.command("maintain")
def maintain(dry_run: DryRun = False) -> None:
    """Cluster closed time buckets by symbol, vacuum old files, checkpoint (the nightly maintain_lake job)."""
    from ai_trader_assets.storage.lake.maintenance import MIB, maintain_lake
    from ai_trader_assets.storage.lake.tables import lake_tables

    with market_database() as database:
        settings = load_settings()
        tables = lake_tables(lake_from_settings(settings), cached_config(str(settings.config_dir)), database)
        with progress_bar() as progress:
            task = progress.add_task("maintenance", total=len(INGESTED_DATASETS))
            reports = maintain_lake(
                tables,
                settings.today(),
                run_id=cli_run_id("lake-maintain"),
                dry_run=dry_run,
                on_done=lambda _: progress.advance(task),
            )
    table = Table(
        "dataset",
        "files before",
        "files after",
        "MiB before",
        "MiB after",
        "buckets clustered",
        "files vacuumed",
        "notes",
        title=f"lake maintenance{' (dry run: nothing changed)' if dry_run else ''}",
        box=box.SIMPLE_HEAD,
    )
    for r in reports:
        if not r.exists:
            table.add_row(r.dataset, "-", "-", "-", "-", "-", "-", "no table yet")
            continue
        table.add_row(
            r.dataset,
            str(r.files_before),
            str(r.files_after),
            f"{r.bytes_before / MIB:.1f}",
            f"{r.bytes_after / MIB:.1f}",
            ", ".join(r.clustered) or "-",
            str(r.vacuumed),
            "; ".join(r.notes) or "-",
        )
    console.print(table)


@app.command("history")
def history(
    dataset: Annotated[str, typer.Argument(help="bars_1day, bars_1hour, bars_5min, bars_1min, news, ...")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest versions shown.")] = 20,
) -> None:
    """The table's versions, newest first: time, operation, partitions, run id, rows."""
    from ai_trader_assets.storage.lake.tables import lake_tables

    if dataset not in {d.value for d in INGESTED_DATASETS}:
        fail(
            ValueError(f"unknown dataset {dataset!r}: expected one of {[d.value for d in INGESTED_DATASETS]}")
        )
    settings = load_settings()
    tables = lake_tables(lake_from_settings(settings), cached_config(str(settings.config_dir)))
    try:
        versions = tables.history(Dataset(dataset), limit)
    except RuntimeError as exc:
        fail(exc)
    if not versions:
        console.print(f"{tables.lake.describe(dataset)} has no versions yet")
        return
    table = Table(
        "version",
        "time (UTC)",
        "operation",
        "partitions",
        "run id",
        "rows",
        title=tables.lake.describe(dataset),
    )
    for v in versions:
        table.add_row(
            str(v.version),
            v.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            v.operation,
            v.partitions,
            v.run_id,
            v.rows,
        )
    console.print(table)


@app.command("migrate")
def migrate(dry_run: DryRun = False) -> None:
    """Convert a lake of the first release (date=…/layer=…/data.parquet) into the Delta tables.

    Every old partition is verified in its table (row count and key checksum) before its file is
    removed; re-running after an interruption finishes the job without duplicating a row.
    """
    from ai_trader_assets.storage.lake.migration import legacy_partitions, migrate_dataset
    from ai_trader_assets.storage.lake.tables import lake_tables

    with market_database() as database:
        settings = load_settings()
        tables = lake_tables(lake_from_settings(settings), cached_config(str(settings.config_dir)), database)
        todo = {d: legacy_partitions(tables.lake, d) for d in INGESTED_DATASETS}
        total = sum(len(p) for p in todo.values())
        if total == 0:
            console.print(f"nothing to migrate: {tables.lake.url} has no partition of the old layout")
            return
        run_id = cli_run_id("lake-migrate")
        with progress_bar() as progress:
            task = progress.add_task("old partitions", total=total)
            reports = [
                migrate_dataset(
                    tables, d, run_id=run_id, dry_run=dry_run, on_partition=lambda: progress.advance(task)
                )
                for d, partitions in todo.items()
                if partitions
            ]
    table = Table(
        "dataset",
        "old partitions",
        "rows",
        "rows added",
        "files removed",
        title=f"lake migration{' (dry run: nothing changed)' if dry_run else ''}",
        box=box.SIMPLE_HEAD,
    )
    for r in reports:
        table.add_row(r.dataset, str(r.partitions), str(r.rows), str(r.added), str(r.removed))
    console.print(table)
