"""``ai-trader bars|ticks|news|actions|sentiment|sql``: the read side (:class:`MarketData`) from the
command line."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ai_trader_assets.cli.common import errors, market_database
from ai_trader_assets.cli.output import Format, session_dates, write
from ai_trader_assets.config import cached_config
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.lake.location import lake_from_settings

if TYPE_CHECKING:
    from ai_trader_assets.read import MarketData

Symbols = Annotated[str, typer.Argument(help="Symbols, comma-separated (AAPL,MSFT).")]
Start = Annotated[
    str | None, typer.Option("--start", help="First session (YYYY-MM-DD); default 30 days before --end.")
]
End = Annotated[str | None, typer.Option("--end", help="Last session (YYYY-MM-DD); default today.")]
FormatOption = Annotated[Format, typer.Option("--format", help="table (truncated), csv, json or parquet.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")]


@contextlib.contextmanager
def reader() -> Iterator["MarketData"]:
    from ai_trader_assets.read import MarketData

    with market_database() as database:
        settings = load_settings()
        config = cached_config(str(settings.config_dir))
        yield MarketData(database, lake_from_settings(settings), config=config, today=settings.today())


def _explain_empty(data: "MarketData") -> None:
    report = data.last_read
    if report is not None and report.rows == 0 and report.empty_reason:
        errors.print(f"no rows: {report.empty_reason}", highlight=False)


def bars(
    symbols: Symbols,
    interval: Annotated[
        str,
        typer.Option(
            "--interval",
            help="1day, 1hour, 5min or 1min (stored); or built on read: seconds dividing a minute "
            "(10s, 30s; from trades, layer 3) or minutes dividing an hour (2min, 15min; from 1min bars).",
        ),
    ],
    start: Start = None,
    end: End = None,
    adjust: Annotated[str, typer.Option("--adjust", help="none (raw), splits or all.")] = "none",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Apply only actions with an ex-date up to this date.")
    ] = None,
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """OHLCV bars from hot and cold storage, raw or adjusted for splits (and dividends)."""
    with reader() as data:
        rows = data.bars(symbols, interval, start, end, adjust=adjust, as_of=as_of, output="arrow")
        report = data.last_read
        assert report is not None
        title = f"{interval} bars {report.start}..{report.end} ({report.adjust})"
        if interval.strip().lower() == "1day" and fmt == Format.TABLE and output is None:
            rows = session_dates(rows)  # people read daily bars by session; files keep ts (UTC)
        write(rows, fmt, output, title=title)
        _explain_empty(data)


def ticks(
    symbols: Symbols,
    start: Annotated[
        str | None, typer.Option("--start", help="First session (YYYY-MM-DD); default 7 days before --end.")
    ] = None,
    end: End = None,
    all_hours: Annotated[
        bool,
        typer.Option("--all-hours", help="Include pre- and post-market trades (default: regular hours)."),
    ] = False,
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """Every stored trade of the symbols (layer 3), exact SIP time in nanoseconds, in time order."""
    with reader() as data:
        rows = data.ticks(symbols, start, end, regular_hours=not all_hours, output="arrow")
        report = data.last_read
        assert report is not None
        hours = "all hours" if all_hours else "regular hours"
        write(rows, fmt, output, title=f"ticks {report.start}..{report.end} ({hours})")
        _explain_empty(data)


def news(
    symbols: Symbols,
    start: Start = None,
    end: End = None,
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """News naming the symbols, from hot and cold storage."""
    _records("news", symbols, start, end, fmt, output)


def actions(
    symbols: Symbols,
    start: Start = None,
    end: End = None,
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """Splits and dividends of the symbols by ex-date, as the providers reported them."""
    _records("corporate actions", symbols, start, end, fmt, output)


def sentiment(
    symbols: Symbols,
    source: Annotated[
        str | None, typer.Option("--source", help="reddit or news (default: both, one row per source).")
    ] = None,
    start: Start = None,
    end: End = None,
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """Per symbol and session: mentions, authors and VADER tone of Reddit and of the stored news
    (layers 2 and 3)."""
    with reader() as data:
        rows = data.sentiment(symbols, start, end, source=source, output="arrow")
        report = data.last_read
        assert report is not None
        write(rows, fmt, output, title=f"sentiment {report.start}..{report.end} ({source or 'all sources'})")
        _explain_empty(data)


def _records(
    what: str, symbols: str, start: str | None, end: str | None, fmt: Format, output: Path | None
) -> None:
    with reader() as data:
        read = data.news if what == "news" else data.corporate_actions
        write(read(symbols, start, end, output="arrow"), fmt, output, title=what)
        _explain_empty(data)


def sql(
    query: Annotated[
        str, typer.Argument(help='DuckDB SQL over the views (e.g. "SELECT count(*) FROM bars_1day").')
    ],
    fmt: FormatOption = Format.TABLE,
    output: OutputOption = None,
) -> None:
    """DuckDB SQL over one view per dataset (bars_1day ... bars_1min, news, corporate_actions, ticks,
    social_sentiment): hot
    and cold storage, every key once."""
    with market_database() as database:
        settings = load_settings()
        from ai_trader_assets.read.sql import run_sql  # DuckDB loads for this command only
        from ai_trader_assets.storage.lake.tables import lake_tables

        tables = lake_tables(lake_from_settings(settings), cached_config(str(settings.config_dir)))
        write(run_sql(query, database, tables), fmt, output, title="query")
