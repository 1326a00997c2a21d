"""The ``ai-trader`` command: database migrations and the companies universe."""

import contextlib
import datetime as dt
import getpass
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, NoReturn

import dagster as dg
import sqlalchemy as sa
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai_trader_assets.backfill_launch import (
    BackfillLaunchError,
    BackfillProgress,
    InProcessRunner,
    LayerLaunch,
    PlannedRun,
    WebserverClient,
    planned_runs,
    record_requests,
)
from ai_trader_assets.backfill_plan import BackfillPlan, BackfillPlanner, parse_datasets
from ai_trader_assets.config import INGESTED_DATASETS, REPO_ROOT, ConfigError, load_config
from ai_trader_assets.definitions import defs
from ai_trader_assets.qualification import cursor_after_history, release_guard
from ai_trader_assets.run_tags import LAUNCHED_BY_TAG
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
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.retention import RetentionEngine

app = typer.Typer(help="ai_trader_assets: layered market data on Dagster.", no_args_is_help=True)
db_app = typer.Typer(help="The market database schema (Alembic migrations).", no_args_is_help=True)
companies_app = typer.Typer(help="The companies table: the one source of layers.", no_args_is_help=True)
app.add_typer(db_app, name="db")
sensor_app = typer.Typer(help="The qualification sensor.", no_args_is_help=True)
app.add_typer(companies_app, name="companies")
app.add_typer(sensor_app, name="sensor")

# Piped or captured output is not squeezed into rich's 80-column default; a terminal sets its own width.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, soft_wrap=True)

# Errors a user can act on: printed as one line, exit code 1, no traceback.
USER_ERRORS = (
    SettingsError,
    ConfigError,
    InvalidSymbolError,
    UnknownSymbolError,
    CompaniesImportError,
    BackfillLaunchError,
    ValueError,  # BackfillPlanError among them
)


@contextlib.contextmanager
def _market_database(*, migrated: bool = True) -> Iterator[MarketDatabase]:
    """The market database, reachable and (unless ``migrated=False``) at the shipped schema revision."""
    try:
        settings = load_settings()
        database = MarketDatabase(settings.database_url, load_config(settings.config_dir).pipeline.database)
    except USER_ERRORS as exc:
        _fail(exc)
    try:
        if migrated:
            _require_current_schema(database)
        yield database
    except USER_ERRORS as exc:
        _fail(exc)
    except sa.exc.OperationalError as exc:
        # The driver's first line says what failed (refused, unknown host, bad password); the URL is masked.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        _fail(
            RuntimeError(f"market database {mask_url(database.url)}: {reason}; check AI_TRADER_DATABASE_URL")
        )
    finally:
        database.dispose()


def _require_current_schema(database: MarketDatabase) -> None:
    current, head = migrations.current_revision(database), migrations.head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}, the code needs {head}"
        _fail(RuntimeError(f"market database {mask_url(database.url)} {state}: run 'ai-trader db upgrade'"))


@contextlib.contextmanager
def _dagster_instance(settings: Settings) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance at DAGSTER_HOME; a misconfigured one is one line, not a config dump."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
    except dg.DagsterInvalidConfigError as exc:
        unset = sorted(set(re.findall(r'environment variable "(\w+)"', str(exc))))
        problem = f"needs {', '.join(unset)}, which are not set" if unset else "has an invalid dagster.yaml"
        _fail(RuntimeError(f"the Dagster instance at {home} {problem} (DAGSTER_HOME/dagster.yaml)"))
    except Exception as exc:  # noqa: BLE001 - storage plugins raise their own types (DagsterPostgresException...)
        _fail(RuntimeError(f"cannot open the Dagster instance at {home}: {str(exc).splitlines()[0]}"))
    with instance:
        yield instance


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
    with _market_database(migrated=False) as database:
        migrations.upgrade(database, revision)
        console.print(
            f"market database {mask_url(database.url)} is at revision {migrations.current_revision(database)}"
        )


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the market database down (``base`` drops every table)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with _market_database(migrated=False) as database:
        migrations.downgrade(database, revision)
        console.print(f"market database is at revision {migrations.current_revision(database)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one shipped."""
    with _market_database(migrated=False) as database:
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


@sensor_app.command("skip-history")
def sensor_skip_history() -> None:
    """Start the qualification sensor after every qualification event recorded so far.

    For a universe loaded as history (the quickstart's demo universe): its events launch no
    backfills, later changes do. Without this, a first import fills every layer's whole window.
    """
    with _market_database() as database:
        cursor = cursor_after_history(database)
    settings = load_settings()
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)}
    dagster = str(Path(sys.executable).parent / "dagster")
    workspace = str(REPO_ROOT / "workspace.yaml")
    # Setting a cursor stores an explicit sensor state, so the sensor is started again after it.
    for args in (
        ["cursor", "qualification_sensor", "--set", cursor.to_json()],
        ["start", "qualification_sensor"],
    ):
        done = subprocess.run(
            [dagster, "sensor", *args, "-w", workspace], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            _fail(RuntimeError(f"'dagster sensor {args[0]}' failed: {last_line}"))
    console.print(f"qualification_sensor starts after event {cursor.high}: earlier events are history")


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


def _cli_run_id(command: str) -> str:
    """Lake commits made outside Dagster name the command and the invocation."""
    return f"cli-{command}-{uuid.uuid4().hex[:12]}"


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
            database,
            _lake(settings),
            load_config(settings.config_dir),
            settings.today(),
            run_id=_cli_run_id("retention"),
        )
        with _progress() as progress:
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
    with _dagster_instance(settings) as instance:
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


@app.command("backfill")
def backfill(
    symbols: Annotated[
        str, typer.Option("--symbols", help="layer0..layer3, all, or symbols: AAPL,MSFT (grouped by layer).")
    ],
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Calendar days back from today; default: each dataset's cold window."
        ),
    ] = None,
    datasets: Annotated[
        str | None,
        typer.Option(
            "--datasets", help="Comma-separated, e.g. bars_1day,news; default: the layer's datasets."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan only: nothing is fetched or launched.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Refetch what storage already has (a full refresh).")
    ] = False,
    webserver: Annotated[
        str | None,
        typer.Option(
            "--webserver",
            envvar="AI_TRADER_WEBSERVER_URL",
            help="Submit to this running Dagster webserver (its daemon runs it); default: run in-process.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With --webserver: follow the backfill to its end.")
    ] = True,
) -> None:
    """Backfill market data for a layer or symbols through Dagster (shown in the UI).

    Prints the plan (sessions, symbols, datasets, provider requests and time at the configured rate
    limits), then submits it to the running webserver, or executes its runs in this process against
    the Dagster instance at DAGSTER_HOME.
    """
    with _market_database() as database:
        settings = load_settings()
        config = load_config(settings.config_dir)
        planner = BackfillPlanner(
            CompaniesRepository(database), Ledger(database), config, settings.today(), settings.provider
        )
        plan = planner.plan(symbols, days, parse_datasets(datasets), refresh=refresh)
        _print_plan(plan)
        if dry_run:
            console.print("dry run: nothing fetched, nothing launched")
            return
        client = WebserverClient(webserver) if webserver else None
        if client:
            client.check()  # before anything is recorded
        reason = f"ai-trader backfill --symbols {symbols}" + (f" --days {days}" if days else "")
        launches = record_requests(database, config, plan, f"{reason} (by {getpass.getuser()})", refresh)
        if not launches:
            console.print("nothing to fetch: storage already has every pair (--refresh refetches)")
            return
        if client:
            ok = _submit_to_webserver(client, launches, wait)
        else:
            ok = _run_in_process(settings, launches, config.pipeline.chunks.max_partitions_per_run)
    if not ok:
        raise typer.Exit(code=1)


def _print_plan(plan: BackfillPlan) -> None:
    window = f"last {plan.days} calendar days" if plan.days else "each dataset's cold window (retention.yaml)"
    table = Table(
        "layer",
        "dataset",
        "sessions",
        "from",
        "to",
        "symbols",
        "to fetch",
        "requests",
        title=f"backfill plan as of {plan.today}: {window}",
        box=box.SIMPLE_HEAD,
    )
    for layer in plan.layers:
        for d in layer.datasets:
            table.add_row(
                str(layer.layer),
                d.dataset.value,
                str(len(d.sessions)),
                str(d.first),
                str(d.last),
                str(len(layer.symbols)),
                f"{d.missing_pairs}/{len(d.sessions) * len(layer.symbols)}",
                str(d.requests),
            )
    console.print(table)
    for layer in plan.layers:
        shown = ", ".join(layer.symbols[:12]) + (
            f" and {len(layer.symbols) - 12} more" if len(layer.symbols) > 12 else ""
        )
        console.print(f"layer {layer.layer} symbols: {shown}")
    limit = plan.rate_limit
    console.print(
        f"{plan.partitions} partition(s); about {plan.requests} {plan.provider} request(s), "
        f"{_duration(plan.estimated_seconds)} at {limit.requests_per_second}/s, "
        f"{limit.requests_per_minute}/min (providers.yaml); "
        "'to fetch' = (session, symbol) pairs not yet stored"
    )
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "under a second" if seconds < 1 else f"about {seconds:.0f} s"
    if seconds < 3600:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _submit_to_webserver(client: WebserverClient, launches: list[LayerLaunch], wait: bool) -> bool:
    launched = []
    for launch in launches:
        backfill_id = client.launch(launch)
        launched.append((launch, backfill_id))
        console.print(
            f"launched backfill {backfill_id} (layer {launch.layer}): {client.backfill_url(backfill_id)}"
        )
    if not wait:
        return True
    results: dict[str, BackfillProgress] = {}
    with _progress() as progress:
        tasks = {
            backfill_id: progress.add_task(f"layer {launch.layer} backfill {backfill_id}", total=None)
            for launch, backfill_id in launched
        }
        while len(results) < len(launched):
            for backfill_id, task in tasks.items():
                if backfill_id in results:
                    continue
                state = client.progress(backfill_id)
                progress.update(
                    task, total=state.targeted or None, completed=state.materialized + state.failed
                )
                if state.finished:
                    results[backfill_id] = state
            if len(results) < len(launched):
                time.sleep(2)
    ok = True
    for backfill_id, state in results.items():
        if not state.succeeded:
            ok = False
            errors.print(
                f"[bold red]error:[/] backfill {backfill_id} ended {state.status} with {state.failed} failed "
                f"partition(s); see {client.backfill_url(backfill_id)}",
                highlight=False,
            )
    return ok


def _run_in_process(settings: Settings, launches: list[LayerLaunch], max_partitions_per_run: int) -> bool:
    runs = list(planned_runs(launches, max_partitions_per_run))
    with _dagster_instance(settings) as instance:
        return _execute_runs(InProcessRunner(instance, defs()), runs, settings)


def _execute_runs(runner: InProcessRunner, runs: list[PlannedRun], settings: Settings) -> bool:
    console.print(
        f"running {len(runs)} run(s) in-process, recorded in the Dagster instance at {settings.dagster_home}"
    )
    failed = []
    with _progress() as progress:
        task = progress.add_task("partitions", total=sum(len(r.sessions) for r in runs))
        for run in runs:
            progress.update(
                task, description=f"layer {run.layer} {run.dataset} {run.sessions[0]}..{run.sessions[-1]}"
            )
            run_id, ok = runner.execute(run)
            if not ok:
                failed.append((run, run_id))
            progress.advance(task, len(run.sessions))
        progress.update(task, description="partitions")
    for run, run_id in failed:
        errors.print(
            f"[bold red]error:[/] run {run_id} failed (layer {run.layer} {run.dataset} "
            f"{run.sessions[0]}..{run.sessions[-1]}); its log is in the Dagster UI under Runs",
            highlight=False,
        )
    return not failed


def main() -> None:
    app()
