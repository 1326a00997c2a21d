"""``ai-trader db``: the market database schema (Alembic migrations)."""

import logging
from typing import Annotated

import typer

from ai_trader_assets.cli.common import (
    console,
    market_database,
)
from ai_trader_assets.settings import mask_url
from ai_trader_assets.storage import migrations  # light: Alembic loads only to migrate

app = typer.Typer(help="The market database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the market database (companies, hot tables, events)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Alembic's plugin chatter is noise for a user; keep the migrations and merge report.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    with market_database(migrated=False) as database:
        migrations.upgrade(database, revision)
        console.print(
            f"market database {mask_url(database.url)} is at revision {migrations.current_revision(database)}"
        )


@app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the market database down (``base`` drops every table)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with market_database(migrated=False) as database:
        migrations.downgrade(database, revision)
        console.print(f"market database is at revision {migrations.current_revision(database)}")


@app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one shipped."""
    with market_database(migrated=False) as database:
        current = migrations.current_revision(database)
        head = migrations.head_revision()
        state = "up to date" if current == head else "run 'ai-trader db upgrade'"
        console.print(f"{mask_url(database.url)}: revision {current} (head {head}, {state})")
