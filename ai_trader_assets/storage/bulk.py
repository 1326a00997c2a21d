"""Bulk writes of rows into a SQL table by key, the fastest way each engine offers.

PostgreSQL: COPY (binary where the rows allow, see :mod:`.pg_copy`) into a temporary staging table,
then one ``INSERT … ON CONFLICT DO UPDATE``; where nothing can conflict, COPY straight into the table.
SQLite: batched ``INSERT … ON CONFLICT DO UPDATE`` through the driver. Both are idempotent: writing
the same rows twice leaves the table as it was.
"""

import io
from collections.abc import Iterable, Sequence

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ai_trader_assets.storage import pg_copy

SQLITE_BATCH_ROWS = 50_000


class BulkUpsert:
    """Upserts and straight COPYs of whole frames; remembers each PostgreSQL table's column types."""

    def __init__(self) -> None:
        self._column_types: dict[str, dict[str, str]] = {}  # PostgreSQL table -> column -> type

    def upsert(
        self, conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: list[str], key: Sequence[str]
    ) -> None:
        """Insert or replace the frame's rows by ``key`` inside the caller's transaction."""
        if frame.empty:
            return
        arrow = _arrow(frame, columns)
        updates = [c for c in columns if c not in key]
        quoted = ", ".join(f'"{c}"' for c in columns)
        conflict = ", ".join(f'"{c}"' for c in key)
        assignments = ", ".join(f'"{c}" = excluded."{c}"' for c in updates)
        on_conflict = f"DO UPDATE SET {assignments}" if updates else "DO NOTHING"
        upsert = f"ON CONFLICT ({conflict}) {on_conflict}"
        if conn.dialect.name == "postgresql":
            self._copy_upsert(conn, table.name, arrow, quoted, upsert)
            return
        wire = _wire_table(arrow, conn.dialect.name)
        placeholders = ", ".join("?" for _ in columns)
        statement = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders}) ' + upsert
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for batch in wire.to_batches(max_chunksize=SQLITE_BATCH_ROWS):
                columns_py = [column.to_pylist() for column in batch.columns]
                cursor.executemany(statement, list(zip(*columns_py, strict=True)))
        finally:
            cursor.close()

    def copy(self, conn: Connection, table: str, frame: pd.DataFrame, columns: list[str]) -> bool:
        """PostgreSQL: COPY straight into the table (no staging, no conflict handling), the fast path
        where nothing is there to replace. A key written meanwhile by another run makes it roll back
        to its savepoint and answer False (the caller upserts instead)."""
        chunks, form = self.copy_form(conn, table, _arrow(frame, columns))
        quoted = ", ".join(f'"{c}"' for c in columns)
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("SAVEPOINT hot_copy")
            try:
                with cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN WITH (FORMAT {form})') as copy:
                    for chunk in chunks:
                        copy.write(chunk)
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT hot_copy")
                return False
            cursor.execute("RELEASE SAVEPOINT hot_copy")
        return True

    def _copy_upsert(self, conn: Connection, table: str, arrow: pa.Table, quoted: str, upsert: str) -> None:
        chunks, form = self.copy_form(conn, table, arrow)
        staging = f"staging_{table}"
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(
                f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" (LIKE "{table}") ON COMMIT DELETE ROWS'
            )
            cursor.execute(f'TRUNCATE "{staging}"')
            with cursor.copy(f'COPY "{staging}" ({quoted}) FROM STDIN WITH (FORMAT {form})') as copy:
                for chunk in chunks:
                    copy.write(chunk)
            cursor.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM "{staging}" {upsert}')

    def copy_form(
        self, conn: Connection, table: str, arrow: pa.Table
    ) -> tuple[Iterable[bytes | memoryview], str]:
        """The rows as COPY data and its format: binary where ``pg_copy`` encodes them, else CSV."""
        if table not in self._column_types:
            found = conn.execute(
                sa.text(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                    "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"
                ),
                {"table": f'"{table}"'},
            )
            self._column_types[table] = {str(name): str(kind) for name, kind in found}
        chunks = pg_copy.encode(arrow, self._column_types[table])
        if chunks is not None:
            return chunks, "binary"
        return [_csv(_wire_table(arrow, "postgresql")).getvalue()], "csv"


def _arrow(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Table:
    return pa.Table.from_pandas(frame[list(columns)], preserve_index=False)


def _wire_table(table: pa.Table, dialect: str) -> pa.Table:
    """The rows in the text form the database driver (SQLite) or a CSV COPY expects."""
    arrays = []
    for name in table.column_names:
        column = table[name]
        if pa.types.is_timestamp(column.type):
            # UTC wall time as "YYYY-MM-DD HH:MM:SS.ffffff": SQLAlchemy's text form of a DateTime on
            # SQLite, which every writer must use exactly (PostgreSQL gets "+00" after it). Casting a
            # naive timestamp is ~12x faster than strftime or casting a zoned one (no zone lookups).
            column = column.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us")).cast(pa.string())
            if dialect != "sqlite":
                column = pc.binary_join_element_wise(column, pa.scalar("+00"), "")
        elif pa.types.is_date(column.type):
            column = pc.strftime(column.cast(pa.timestamp("s")), format="%Y-%m-%d")
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def _csv(wire: pa.Table) -> io.BytesIO:
    """Rows as COPY's CSV (no header)."""
    buffer = io.BytesIO()
    pacsv.write_csv(wire, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buffer
