"""The ``ai-trader`` command: one module per command group, registered here."""

import typer

from ai_trader_assets.cli import backfill, companies, db, lake, read, reconcile, sensor, status, universe

app = typer.Typer(help="ai_trader_assets: layered market data on Dagster.", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(companies.app, name="companies")
app.add_typer(sensor.app, name="sensor")
app.add_typer(lake.app, name="lake")
app.add_typer(universe.app, name="universe")
app.command("retention")(status.retention)
app.command("status")(status.status)
app.command("backfill")(backfill.backfill)
app.command("bars")(read.bars)
app.command("ticks")(read.ticks)
app.command("sentiment")(read.sentiment)
app.command("news")(read.news)
app.command("actions")(read.actions)
app.command("sql")(read.sql)
app.command("reconcile")(reconcile.reconcile)


def main() -> None:
    app()
