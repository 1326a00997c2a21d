"""``ai-trader health``: the platform's health for cron, Kubernetes probes and monitoring; exit code 0
healthy, 1 degraded, 2 down (the checks: ``ai_trader_assets.ops.health``)."""

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from ai_trader_assets.cli.common import console

COLOURS = {"ok": "green", "degraded": "yellow", "down": "bold red"}


class HealthFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def health(
    fmt: Annotated[
        HealthFormat, typer.Option("--format", help="table (coloured) or json ({status, checks}).")
    ] = HealthFormat.TABLE,
    probe_providers: Annotated[
        bool,
        typer.Option("--probe-providers", help="Also send one cheap request to each configured provider."),
    ] = False,
) -> None:
    """Is the platform healthy? Database, lake, daemon, sensors and schedules, freshness, quarantine,
    disk (and providers). Exit code 0 healthy, 1 degraded, 2 down."""
    from ai_trader_assets.ops.health import run_health
    from ai_trader_assets.planning.intraday import freshness

    report = run_health(probe_providers=probe_providers, intraday=freshness)
    if fmt == HealthFormat.JSON:
        sys.stdout.write(report.to_json() + "\n")
        sys.stdout.flush()
    else:
        table = Table("check", "status", "value", "detail", title="health", box=box.SIMPLE_HEAD)
        for c in report.checks:
            colour = COLOURS[c.status.value]
            # Details quote errors and paths: plain text, never rich markup.
            table.add_row(
                Text(c.name), Text(c.status.value, style=colour), _value(c.value, c.unit), Text(c.detail)
            )
        console.print(table, highlight=False)
        counts = report.counts()
        status = report.status.value
        console.print(
            f"[{COLOURS[status]}]{status}[/]: {len(report.checks)} checks, "
            + ", ".join(f"{n} {s.value}" for s, n in counts.items()),
            highlight=False,
        )
    raise typer.Exit(code=report.exit_code)


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 2**30:.1f} GiB"
    if unit in ("seconds", "milliseconds"):
        return f"{value:,.0f} {'s' if unit == 'seconds' else 'ms'}"
    return f"{value:,.0f} {unit}".strip()
