"""``ai-trader sensor``: the qualification sensor's guard and starting point."""

import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from ai_trader_assets.cli.common import (
    console,
    fail,
    market_database,
)
from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets.settings import load_settings

app = typer.Typer(help="The qualification sensor.", no_args_is_help=True)


@app.command("release")
def sensor_release(
    note: Annotated[str, typer.Option(help="Why the mass demotion is intended.")] = "released from the CLI",
) -> None:
    """Let the qualification sensor proceed past its demotion guard (once)."""
    from ai_trader_assets.planning.qualification import release_guard

    with market_database() as database:
        release = release_guard(database, released_by=getpass.getuser(), note=note)
        console.print(f"demotion guard released (release {release}); the sensor proceeds on its next tick")


@app.command("skip-history")
def sensor_skip_history() -> None:
    """Start the qualification sensor after every qualification event recorded so far.

    For a universe loaded as history (the quickstart's demo universe): its events launch no
    backfills, later changes do. Without this, a first import fills every layer's whole window.
    """
    from ai_trader_assets.planning.qualification import cursor_after_history

    with market_database() as database:
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
            fail(RuntimeError(f"'dagster sensor {args[0]}' failed: {last_line}"))
    console.print(f"qualification_sensor starts after event {cursor.high}: earlier events are history")
