"""``ai-trader universe sync``: layer 0 from the primary provider's list (what the daily asset does)."""

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from ai_trader_assets.cli.common import console, errors, market_database, provider_stats
from ai_trader_assets.config import cached_config
from ai_trader_assets.settings import load_settings

app = typer.Typer(help="The universe of companies (layer 0).", no_args_is_help=True)


@app.command("sync")
def universe_sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
) -> None:
    """Upsert the primary provider's tradable stocks into companies and deactivate those missing for
    delist_after_days syncs; a short, empty or truncated list changes nothing (exit code 1)."""
    from ai_trader_assets.planning.universe import sync_universe, universe_source
    from ai_trader_assets.providers import build_single
    from ai_trader_assets.storage.companies import CompaniesRepository

    settings = load_settings()
    config = cached_config(str(settings.config_dir))
    with market_database() as database, provider_stats() as recorder:
        state = settings.home / "ratelimits"
        provider = build_single(settings.provider, config, settings.access, state, recorder=recorder)
        source = universe_source(provider, settings.provider)
        plan = sync_universe(source, CompaniesRepository(database), config.pipeline.universe, dry_run=dry_run)
    table = Table(box=box.SIMPLE, show_header=False)
    for key, value in plan.summary().items():
        table.add_row(key, str(value))
    console.print(table)
    if plan.refused:
        errors.print(f"refused: {plan.refused}", highlight=False)
        raise typer.Exit(1)
    if dry_run:
        console.print("dry run: nothing changed")
    elif plan.applied is not None:
        applied = plan.applied
        console.print(
            f"applied: {applied.inserted} inserted, {applied.updated} updated, "
            f"{applied.layer_changes} layer change(s)"
        )
