"""The ``ai-trader`` command: one module per command group, registered here."""

import contextlib
import logging
import os
import sys
from typing import Any

import typer
import typer.core

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

# `ai-trader --help` lists the commands in panels, in this order: what people use most first.
READING = "Reading data"
RUNNING = "Running the platform"
SETTING_UP = "Setting up"
QUALITY = "Quality"
PANELS = (READING, RUNNING, SETTING_UP, QUALITY)


class _InPanelOrder(typer.core.TyperGroup):
    """Commands listed panel by panel (typer shows a panel where its first command is listed, and
    lists single commands before command groups), in registration order within a panel."""

    def list_commands(self, ctx: Any) -> list[str]:  # typer's own (vendored) click Context
        def panel(name: str) -> int:
            title = getattr(self.commands[name], "rich_help_panel", None)
            return PANELS.index(title) if title in PANELS else len(PANELS)

        return sorted(super().list_commands(ctx), key=panel)


app = typer.Typer(
    help="ai_trader_assets: layered market data on Dagster.", no_args_is_help=True, cls=_InPanelOrder
)

app.command("bars", rich_help_panel=READING)(read.bars)
app.command("ticks", rich_help_panel=READING)(read.ticks)
app.command("sentiment", rich_help_panel=READING)(read.sentiment)
app.command("news", rich_help_panel=READING)(read.news)
app.command("actions", rich_help_panel=READING)(read.actions)
app.command("sql", rich_help_panel=READING)(read.sql)
app.command("status", rich_help_panel=RUNNING)(status.status)
app.command("backfill", rich_help_panel=RUNNING)(backfill.backfill)
app.command("retention", rich_help_panel=RUNNING)(status.retention)
app.add_typer(sensor.app, name="sensor", rich_help_panel=RUNNING)
app.add_typer(lake.app, name="lake", rich_help_panel=RUNNING)
app.add_typer(alerts.app, name="alerts", rich_help_panel=RUNNING)
app.add_typer(metrics.app, name="metrics", rich_help_panel=RUNNING)
app.add_typer(db.app, name="db", rich_help_panel=SETTING_UP)
app.add_typer(companies.app, name="companies", rich_help_panel=SETTING_UP)
app.add_typer(universe.app, name="universe", rich_help_panel=SETTING_UP)
app.command("reconcile", rich_help_panel=QUALITY)(reconcile.reconcile)
app.command("health", rich_help_panel=QUALITY)(health.health)


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
