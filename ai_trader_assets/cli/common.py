"""What every ``ai-trader`` command shares: consoles, one-line errors, the market database, the
Dagster instance, the lake, progress bars.

:mod:`.main` imports every command module to register its commands, so the modules of ``cli/`` import
only what declaring a command needs; a command imports its machinery (Dagster, Alembic, DuckDB,
providers, planners) when it runs: ``ai-trader bars`` starts without loading Dagster.
"""

import contextlib
import re
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ai_trader_assets.config import ConfigError, cached_config
from ai_trader_assets.datasets.companies import CompaniesImportError
from ai_trader_assets.datasets.symbols import InvalidSymbolError
from ai_trader_assets.providers.base import ProviderError
from ai_trader_assets.settings import Settings, SettingsError, load_settings, mask_url
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import UnknownSymbolError
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import LakeError

if TYPE_CHECKING:
    import dagster as dg

    from ai_trader_assets.storage.provider_stats import ProviderStatsRecorder

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
    LakeError,
    migrations.SchemaError,
    ProviderError,  # a refused key (naming its variable), every provider unavailable
    ValueError,  # BackfillPlanError among them
    # BackfillLaunchError (the webserver refused or is unreachable): caught by the backfill command.
)


@contextlib.contextmanager
def market_database(*, migrated: bool = True) -> Iterator[MarketDatabase]:
    """The market database, reachable and (unless ``migrated=False``) at the shipped schema revision."""
    try:
        settings = load_settings()
        database = MarketDatabase(
            settings.database_url, cached_config(str(settings.config_dir)).pipeline.database
        )
    except USER_ERRORS as exc:
        fail(exc)
    try:
        if migrated:
            require_current_schema(database)
        yield database
    except USER_ERRORS as exc:
        fail(exc)
    except sa.exc.OperationalError as exc:
        # The driver's first line says what failed (refused, unknown host, bad password); the URL is masked.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        fail(
            RuntimeError(f"market database {mask_url(database.url)}: {reason}; check AI_TRADER_DATABASE_URL")
        )
    finally:
        database.dispose()


def require_current_schema(database: MarketDatabase) -> None:
    current, head = migrations.current_revision(database), migrations.head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}, the code needs {head}"
        fail(RuntimeError(f"market database {mask_url(database.url)} {state}: run 'ai-trader db upgrade'"))


@contextlib.contextmanager
def dagster_instance(settings: Settings) -> Iterator["dg.DagsterInstance"]:
    """The Dagster instance at DAGSTER_HOME; a misconfigured one is one line, not a config dump."""
    import dagster as dg

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
    except dg.DagsterInvalidConfigError as exc:
        unset = sorted(set(re.findall(r'environment variable "(\w+)"', str(exc))))
        problem = f"needs {', '.join(unset)}, which are not set" if unset else "has an invalid dagster.yaml"
        fail(RuntimeError(f"the Dagster instance at {home} {problem} (DAGSTER_HOME/dagster.yaml)"))
    except Exception as exc:  # noqa: BLE001 - storage plugins raise their own types (DagsterPostgresException...)
        fail(RuntimeError(f"cannot open the Dagster instance at {home}: {str(exc).splitlines()[0]}"))
    with instance:
        yield instance


def fail(exc: Exception) -> NoReturn:
    errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def cli_run_id(command: str) -> str:
    """Lake commits made outside Dagster name the command and the invocation."""
    return f"cli-{command}-{uuid.uuid4().hex[:12]}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return "under a second" if seconds < 1 else f"about {seconds:.0f} s"
    if seconds < 3600:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextlib.contextmanager
def provider_stats() -> Iterator["ProviderStatsRecorder"]:
    """A recorder of this command's provider requests (``ai-trader metrics``' provider series),
    written when the command ends."""
    from ai_trader_assets.storage.provider_stats import ProviderStatsRecorder

    recorder = ProviderStatsRecorder(load_settings().database_url)
    try:
        yield recorder
    finally:
        recorder.close()
