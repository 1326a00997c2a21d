"""``ai-trader reconcile``: compare stored daily bars with a second provider over a date range."""

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from ai_trader_assets.cli.common import console, errors, market_database, provider_stats
from ai_trader_assets.config import cached_config
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.lake.location import lake_from_settings


def reconcile(
    symbols: Annotated[str, typer.Option("--symbols", help="Symbols, comma-separated (AAPL,MSFT).")],
    start: Annotated[str, typer.Option("--start", help="First session (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last session (YYYY-MM-DD).")],
) -> None:
    """Compare stored daily bars with a second provider (providers.yaml reconciliation); divergences
    are listed, recorded in the reconciliation table, and make the exit code 1."""
    from ai_trader_assets.ops.reconciliation import parse_date, reconcile_range, reconciler
    from ai_trader_assets.providers import build_single

    settings = load_settings()
    config = cached_config(str(settings.config_dir))
    access = settings.access
    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    with market_database() as database, provider_stats() as recorder:
        state = settings.home / "ratelimits"
        found = reconcile_range(
            reconciler(
                database,
                lake_from_settings(settings),
                config,
                settings.today(),
                provider=lambda name: build_single(name, config, access, state, recorder=recorder),
                available=access.configured,
            ),
            wanted,
            parse_date(start, "--start"),
            parse_date(end, "--end"),
        )
    spec = config.providers.reconciliation
    against = ", ".join(sorted(found.references)) or "no provider"
    console.print(
        f"compared {found.compared} symbol-session(s) with {against}: "
        f"{len(found.divergences)} divergence(s) (close within {spec.close_tolerance:.2%}, "
        f"volume within {spec.volume_tolerance:.2%})",
        highlight=False,
    )
    for line in found.not_compared:
        errors.print(f"not compared: {line}", highlight=False)
    if found.divergences:
        table = Table(box=box.SIMPLE)
        for column in ("session", "symbol", "field", "stored", "value", "other", "value", "difference"):
            table.add_column(column)
        for d in found.worst(len(found.divergences)):
            table.add_row(
                d.session.isoformat(),
                d.symbol,
                d.field,
                d.provider_a,
                "-" if d.value_a is None else f"{d.value_a:g}",
                d.provider_b,
                "-" if d.value_b is None else f"{d.value_b:g}",
                "missing" if d.field == "session" else f"{d.relative:.2%}",
            )
        console.print(table)
        raise typer.Exit(1)
    if found.compared == 0:
        raise typer.Exit(1)
