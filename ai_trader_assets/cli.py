"""The ``ai-trader`` command: database migrations and the companies universe."""

import contextlib
import getpass
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ai_trader_assets.config import ConfigError, load_config
from ai_trader_assets.qualification import release_guard
from ai_trader_assets.settings import Secret, Settings, SettingsError, load_settings, mask_url
from ai_trader_assets.status import build_status
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import (
    CompaniesImportError,
    CompaniesRepository,
    InvalidSymbolError,
    UnknownSymbolError,
    validate_layer,
)
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.retention import RetentionEngine

app = typer.Typer(help="ai_trader_assets: layered market data on Dagster.", no_args_is_help=True)
db_app = typer.Typer(help="The market database schema (Alembic migrations).", no_args_is_help=True)
companies_app = typer.Typer(help="The companies table: the one source of layers.", no_args_is_help=True)
app.add_typer(db_app, name="db")
sensor_app = typer.Typer(help="The qualification sensor.", no_args_is_help=True)
app.add_typer(companies_app, name="companies")
app.add_typer(sensor_app, name="sensor")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

# Errors a user can act on: printed as one line, exit code 1, no traceback.
USER_ERRORS = (
    SettingsError,
    ConfigError,
    InvalidSymbolError,
    UnknownSymbolError,
    CompaniesImportError,
    ValueError,
)


@contextlib.contextmanager
def _market_database() -> Iterator[MarketDatabase]:
    try:
        settings = load_settings()
        database = MarketDatabase(settings.database_url, load_config(settings.config_dir).pipeline.database)
    except USER_ERRORS as exc:
        _fail(exc)
    try:
        yield database
    except USER_ERRORS as exc:
        _fail(exc)
    finally:
        database.dispose()


def _fail(exc: Exception) -> NoReturn:
    errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the market database (companies, hot tables, events)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Alembic's plugin chatter is noise for a user; keep the migrations and merge report.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    with _market_database() as database:
        migrations.upgrade(database, revision)
        console.print(
            f"market database {mask_url(database.url)} is at revision {migrations.current_revision(database)}"
        )


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the market database down (``base`` drops every table)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with _market_database() as database:
        migrations.downgrade(database, revision)
        console.print(f"market database is at revision {migrations.current_revision(database)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one shipped."""
    with _market_database() as database:
        current = migrations.current_revision(database)
        head = migrations.head_revision()
        state = "up to date" if current == head else "run 'ai-trader db upgrade'"
        console.print(f"{mask_url(database.url)}: revision {current} (head {head}, {state})")


@companies_app.command("import")
def companies_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header; 'symbol' required.", exists=False)],
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only when the companies table is empty (first start).")
    ] = False,
) -> None:
    """Insert or update companies from a CSV (all rows validated first; one bad row writes nothing).

    Columns: symbol, name, exchange, liquidity_score, and either layer (0-3 or none) or the flags
    is_active, layer1_qualified, layer2_qualified, layer3_qualified.
    """
    with _market_database() as database:
        repository = CompaniesRepository(database)
        if if_empty and any(repository.layer_counts().values()):
            console.print("companies already present: import skipped (--if-empty)")
            return
        result = repository.import_csv(file)
        console.print(
            f"imported {file}: {result.inserted} inserted, {result.updated} updated, "
            f"{result.layer_changes} layer change(s) recorded"
        )


@companies_app.command("set-layer")
def companies_set_layer(
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL.")],
    layer: Annotated[str, typer.Argument(help="0, 1, 2, 3, or 'none' to deactivate.")],
) -> None:
    """Give a symbol exactly this layer; the change is recorded as a qualification event."""
    with _market_database() as database:
        company = CompaniesRepository(database).set_layer(symbol, validate_layer(layer), source="cli")
        console.print(
            f"{company.symbol} is now in layer {company.layer if company.layer is not None else 'none'}"
        )


@companies_app.command("layers")
def companies_layers() -> None:
    """How many symbols each layer holds."""
    with _market_database() as database:
        counts = CompaniesRepository(database).layer_counts()
    table = Table("layer", "symbols")
    for layer in (3, 2, 1, 0, None):
        table.add_row("none" if layer is None else str(layer), str(counts.get(layer, 0)))
    console.print(table)


@sensor_app.command("release")
def sensor_release(
    note: Annotated[str, typer.Option(help="Why the mass demotion is intended.")] = "released from the CLI",
) -> None:
    """Let the qualification sensor proceed past its demotion guard (once)."""
    with _market_database() as database:
        release = release_guard(database, released_by=getpass.getuser(), note=note)
        console.print(f"demotion guard released (release {release}); the sensor proceeds on its next tick")


def _lake(settings: Settings) -> Lake:
    env = os.environ
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    return Lake(
        settings.lake_url,
        s3_endpoint_url=settings.aws_endpoint_url,
        s3_region=settings.aws_region,
        s3_access_key_id=Secret(key_id) if key_id else None,
        s3_secret_access_key=Secret(secret) if secret else None,
    )


@app.command("retention")
def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
) -> None:
    """Apply the retention policy now (what the daily enforce_retention job does)."""
    with _market_database() as database:
        settings = load_settings()
        engine = RetentionEngine(
            database, _lake(settings), load_config(settings.config_dir), settings.today()
        )
        counts = engine.run(dry_run=dry_run)
    table = Table(
        "dataset",
        "layer",
        "moved",
        "verified",
        "deleted",
        "kept",
        "unverified",
        "purged",
        title=f"retention {'(dry run) ' if dry_run else ''}as of {settings.today()}",
    )
    for (dataset, layer), c in sorted(counts.items()):
        table.add_row(
            dataset,
            layer,
            *(str(v) for v in (c.moved, c.verified, c.deleted, c.kept, c.unverified, c.purged)),
        )
    console.print(table if counts else "nothing to do: no hot or cold data is past its window")


@app.command("status")
def status() -> None:
    """Layers, coverage of each retention window, hot and cold footprint, quarantine."""
    with _market_database() as database:
        settings = load_settings()
        report = build_status(database, _lake(settings), load_config(settings.config_dir), settings.today())
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
    footprint = Table("dataset", "hot rows", "cold files", "cold MiB", "quarantined", title="storage")
    for f in report.footprint:
        footprint.add_row(
            f.dataset, str(f.hot_rows), str(f.cold_files), f"{f.cold_bytes / 2**20:.1f}", str(f.quarantined)
        )
    for table in (layers, coverage, footprint):
        console.print(table)


def main() -> None:
    app()
