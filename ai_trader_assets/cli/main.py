"""The ``ai-trader`` command: one module per command group, registered here."""

import contextlib
import logging
import os
import sys

import typer

from ai_trader_assets.cli import (
    alerts,
    backfill,
    companies,
    db,
    health,
    lake,
    metrics,
    read,
    reconcile,
    sensor,
    status,
    universe,
)

app = typer.Typer(help="ai_trader_assets: layered market data on Dagster.", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(companies.app, name="companies")
app.add_typer(sensor.app, name="sensor")
app.add_typer(lake.app, name="lake")
app.add_typer(universe.app, name="universe")
app.add_typer(alerts.app, name="alerts")
app.add_typer(metrics.app, name="metrics")
app.command("retention")(status.retention)
app.command("status")(status.status)
app.command("health")(health.health)
app.command("backfill")(backfill.backfill)
app.command("bars")(read.bars)
app.command("ticks")(read.ticks)
app.command("sentiment")(read.sentiment)
app.command("news")(read.news)
app.command("actions")(read.actions)
app.command("sql")(read.sql)
app.command("reconcile")(reconcile.reconcile)


def run(args: list[str]) -> int:
    """Run one command; its exit code."""
    try:
        app(args, prog_name="ai-trader")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def main() -> None:
    """The ``ai-trader`` console script: the command, then an exit that skips the interpreter's
    teardown. deltalake (1.6.x, its Rust runtime's threads) can abort a process at teardown
    ("terminate called without an active exception", exit 134) after the command has done its work:
    the output is flushed and the process ends with the command's own exit code instead."""
    code = run(sys.argv[1:])
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
