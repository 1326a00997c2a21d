"""Clustering a time bucket: its rows rewritten sorted by ``(layer, symbol, time)`` in one commit.

Why this order: the dominant reads are one symbol over a long range, and a layer's symbols over a
range (a backtest of layer 2's ~500 symbols). Sorted by symbol alone, a layer's symbols are spread
over every row group of a bucket that also holds layer 0's ~10,000, and such a read decodes them
all (~30x the rows it returns for a year of daily bars). With the layer first, a layer's rows fill
their own row groups, which the reader skips for the other layers by their ``layer`` statistics
(:mod:`ai_trader_assets.read.symbols` says which layers a symbol's rows can lie under); inside a
layer, a symbol's rows are contiguous for the one-symbol read. delta-rs' ``z_order`` cannot give
this order (it interleaves the columns' bits), so the sort runs in DuckDB, which spills to disk
beyond ``lake.maintenance_memory_mb``, into one predicate overwrite of the bucket.

delta-rs writes the batches of a stream in parallel, interleaving them in the file (even inside row
groups), so a streamed bucket is not one sorted run: reads stay correct (they sort) but prune less.
So a bucket whose sorted rows fit in the memory budget is handed over as one chunk, written in
order; only a larger one is streamed (bounded memory first).
"""

import tempfile

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from ai_trader_assets.storage.lake.commits import Commit, literal
from ai_trader_assets.storage.lake.layout import TARGET_FILE_BYTES, TableLayout

BATCH_ROWS = 65_536
ARROW_BYTES_PER_STORED_BYTE = 4  # a bucket's rows in Arrow memory against its Parquet files


def cluster_bucket(
    table: DeltaTable, layout: TableLayout, value: str, commit: Commit, *, memory_mb: int, stored_bytes: int
) -> None:
    """Rewrite the rows of one bucket (``stored_bytes`` on disk) sorted by ``layout.cluster_order``
    in one commit."""
    bucket: list[tuple[str, str, object]] = [(layout.bucket, "=", value)]
    rows = table.to_pyarrow_dataset(file_pruning_predicate=bucket)
    order = ", ".join(f'"{c}"' for c in layout.cluster_order)
    schema = layout.schema
    with tempfile.TemporaryDirectory(prefix="ai-trader-cluster-") as spill:
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            connection.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
            connection.execute(f"SET temp_directory = '{spill}'")
            connection.register("bucket_rows", rows)
            selected = ", ".join(f'"{c}"' for c in schema.names)
            result = connection.sql(f"SELECT {selected} FROM bucket_rows ORDER BY {order}")
            batches = result.to_arrow_reader(BATCH_ROWS)
            stream = pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in batches))
            fits = stored_bytes * ARROW_BYTES_PER_STORED_BYTE <= memory_mb * 2**20
            sorted_rows: pa.Table | pa.RecordBatchReader = (
                stream.read_all().combine_chunks() if fits else stream
            )
            write_deltalake(
                table,
                sorted_rows,
                mode="overwrite",
                predicate=f"{layout.bucket} = {literal(value)}",
                target_file_size=TARGET_FILE_BYTES,
                writer_properties=layout.writer_properties,
                commit_properties=commit.properties(),
            )
        finally:
            connection.close()
