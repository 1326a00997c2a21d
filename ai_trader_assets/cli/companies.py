"""``ai-trader companies``: the companies table, the one source of layers."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ai_trader_assets.cli.common import (
    console,
    market_database,
)
from ai_trader_assets.datasets.companies import validate_layer
from ai_trader_assets.storage.companies import CompaniesRepository

app = typer.Typer(help="The companies table: the one source of layers.", no_args_is_help=True)


@app.command("import")
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
    with market_database() as database:
        repository = CompaniesRepository(database)
        if if_empty and any(repository.layer_counts().values()):
            console.print("companies already present: import skipped (--if-empty)")
            return
        result = repository.import_csv(file)
        console.print(
            f"imported {file}: {result.inserted} inserted, {result.updated} updated, "
            f"{result.layer_changes} layer change(s) recorded"
        )


@app.command("set-layer")
def companies_set_layer(
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL.")],
    layer: Annotated[str, typer.Argument(help="0, 1, 2, 3, or 'none' to deactivate.")],
) -> None:
    """Give a symbol exactly this layer; the change is recorded as a qualification event."""
    with market_database() as database:
        company = CompaniesRepository(database).set_layer(symbol, validate_layer(layer), source="cli")
        console.print(
            f"{company.symbol} is now in layer {company.layer if company.layer is not None else 'none'}"
        )


@app.command("layers")
def companies_layers() -> None:
    """How many symbols each layer holds."""
    with market_database() as database:
        counts = CompaniesRepository(database).layer_counts()
    table = Table("layer", "symbols")
    for layer in (3, 2, 1, 0, None):
        table.add_row("none" if layer is None else str(layer), str(counts.get(layer, 0)))
    console.print(table)
