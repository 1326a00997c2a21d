"""Writing a read's rows: a rich table (truncated, with a count) or complete CSV, JSON or Parquet,
to standard output or a file. Times are ISO 8601 UTC (``2026-11-20T14:30:00Z``); a table of daily
bars shows each bar's session date instead."""

import io
import sys
from enum import StrEnum
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.table import Table

from ai_trader_assets.calendar import NEW_YORK
from ai_trader_assets.cli.common import console, errors

TABLE_ROWS = 40  # the table format shows this many rows; the other formats are complete


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


def write(rows: pd.DataFrame | pa.Table, fmt: Format, output: Path | None, *, title: str) -> None:
    """Write ``rows`` in ``fmt`` to ``output`` (default standard output)."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    if fmt == Format.PARQUET:
        if output is None:
            raise ValueError("--format parquet is binary: give --output FILE")
        pq.write_table(table, output)
    elif fmt == Format.TABLE and output is None:
        console.print(_rich_table(table, title))
        return
    else:
        text = _text(table, fmt)
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            output.write_text(text)
    if output is not None:
        errors.print(f"wrote {table.num_rows:,} rows to {output}", highlight=False)


def session_dates(rows: pa.Table) -> pa.Table:
    """Daily bars with their session date (``session``) in place of ``ts``, the session's midnight in
    New York as a UTC instant (``2026-11-20T05:00:00Z`` reads as the day before)."""
    if "ts" not in rows.column_names:
        return rows
    stamps = pd.Series(rows.column("ts").to_pandas())
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    days = pa.array(stamps.dt.tz_convert(NEW_YORK).dt.date, type=pa.date32())
    return rows.set_column(rows.column_names.index("ts"), "session", days)


def _text(table: pa.Table, fmt: Format) -> str:
    frame = _printable(table)
    if fmt == Format.JSON:
        return frame.to_json(orient="records", force_ascii=False) + "\n"
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _printable(table: pa.Table) -> pd.DataFrame:
    """Times as ISO 8601 UTC text (nanosecond times with their fraction), dates as YYYY-MM-DD, lists
    as ``A;B``."""
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, date_as_object=True)
    for name, field in zip(table.column_names, table.schema, strict=True):
        if pa.types.is_timestamp(field.type):
            values = frame[name]
            if values.dt.tz is None:
                values = values.dt.tz_localize("UTC")
            utc = values.dt.tz_convert("UTC")
            if field.type.unit == "ns":  # trades: the exact SIP time, to the nanosecond
                nanos = (
                    (utc.dt.microsecond * 1000 + utc.dt.nanosecond).astype("Int64").astype(str).str.zfill(9)
                )
                text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.") + nanos + "Z"
            else:
                text = utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            frame[name] = text.where(values.notna(), None)
        elif pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            frame[name] = [";".join(map(str, v)) if v is not None else None for v in frame[name]]
    return frame


def _rich_table(table: pa.Table, title: str) -> Table:
    shown = _printable(table.slice(0, TABLE_ROWS))
    caption = (
        f"{table.num_rows:,} rows"
        if table.num_rows <= TABLE_ROWS
        else f"first {TABLE_ROWS} of {table.num_rows:,} rows (--format csv|json|parquet for all)"
    )
    view = Table(*shown.columns, title=title, caption=caption, box=box.SIMPLE_HEAD)
    for row in shown.itertuples(index=False):
        view.add_row(*("" if pd.isna(v) else _cell(v) for v in row))
    return view


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)
