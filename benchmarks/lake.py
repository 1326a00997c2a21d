"""Lake benchmark: the first release's one-file-per-partition layout against the Delta tables.

Run from the repository root: .venv/bin/python -m benchmarks.lake [--symbols 100] [--sessions 252]
Everything is measured in this run on this machine (machines are noisy: read the ratios):
- writes: the first release's cold write (one Parquet file per (session, layer), written under a
  temporary name and renamed) against ours (``LakeTables.store`` in commits of ``lake.commit_rows``
  rows, and one commit per session as the daily schedule makes them);
- reads of one symbol over every session (a backtest's read) and of every symbol of one session, from
  the old layout, the Delta table before and after maintenance, against a floor: the same rows alone
  in one file for the symbol read, the old per-session file for the session read.
The sessions end with the last full month before ``--today``, so maintenance finds every month closed.
"""

import argparse
import dataclasses
import datetime as dt
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.maintenance import maintain_table
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables

DATASET = Dataset.BARS_1MIN
LAYER = 2


def best_of(repeats: int, read: Callable[[], pa.Table]) -> tuple[float, int]:
    """(median seconds, rows) of a read repeated ``repeats`` times."""
    timings, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = read().num_rows
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), rows


def first_release_write(root: Path, session: dt.date, frame: pd.DataFrame) -> None:
    """What the first release did per partition: ``ColdStore.merge`` then ``Lake.write_partition``
    (storage/cold.py and storage/lake.py at commit caab6a7): merge with what the file holds, one row
    per key, sorted, written under a temporary name and renamed."""
    key = list(SPECS[DATASET].key)
    folder = root / DATASET.value / f"date={session.isoformat()}" / f"layer={LAYER}"
    final = folder / "data.parquet"
    existing = conform(pq.read_table(final).to_pandas(), SPECS[DATASET].columns) if final.exists() else None
    combined = (
        frame if existing is None or existing.empty else pd.concat([existing, frame], ignore_index=True)
    )
    combined = combined.drop_duplicates(subset=key, keep="last").sort_values(key).reset_index(drop=True)
    table = pa.Table.from_pandas(conform(combined, SPECS[DATASET].columns), preserve_index=False)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / ".data.parquet.tmp"
    pq.write_table(table, temporary)
    temporary.rename(final)


def first_release_dataset(root: Path) -> pads.Dataset:
    return pads.dataset(
        root / DATASET.value,
        format="parquet",
        partitioning=pads.partitioning(
            pa.schema([("date", pa.string()), ("layer", pa.int8())]), flavor="hive"
        ),
    )


@dataclasses.dataclass
class Writes:
    """Seconds spent writing the same rows: the first release, our backfill commits, daily commits."""

    rows: int = 0
    old: float = 0.0
    backfill: float = 0.0
    daily: float = 0.0
    daily_commits: list[float] = dataclasses.field(default_factory=list)
    sessions_per_commit: int = 0


def write_everything(
    root: Path,
    tables: LakeTables,
    *,
    daily: LakeTables,
    symbols: list[str],
    sessions: list[dt.date],
    target: str,
) -> Writes:
    """The same demo rows into the old layout and the Delta table; the target symbol's rows to the floor."""
    writes = Writes(sessions_per_commit=max(1, tables.spec.commit_rows // (len(symbols) * 390)))
    floor_rows = []
    for start in range(0, len(sessions), writes.sessions_per_commit):
        chunk = sessions[start : start + writes.sessions_per_commit]
        frame = DemoProvider().bars(symbols, DATASET, chunk[0], chunk[-1]).frame
        writes.rows += len(frame)
        floor_rows.append(frame[frame["symbol"] == target])
        session_of = frame["ts"].dt.tz_convert(calendar.NEW_YORK).dt.date
        partitions = {s: frame[session_of == s].reset_index(drop=True) for s in chunk}  # not timed
        started = time.perf_counter()
        for session in chunk:
            first_release_write(root / "old", session, partitions[session])
        writes.old += time.perf_counter() - started
        started = time.perf_counter()
        tables.store(DATASET, frame, LAYER, Commit("benchmark", "backfill", tuple(map(str, chunk))))
        writes.backfill += time.perf_counter() - started
        for session in chunk:  # the daily schedule's shape: one session per commit
            started = time.perf_counter()
            daily.store(DATASET, partitions[session], LAYER, Commit("benchmark", str(session)))
            writes.daily_commits.append(time.perf_counter() - started)
        writes.daily = sum(writes.daily_commits)
    pq.write_table(pa.Table.from_pandas(pd.concat(floor_rows), preserve_index=False), root / "floor.parquet")
    return writes


def print_writes(writes: Writes, sessions: int) -> None:
    old_partition, daily_partition = writes.old / sessions, writes.daily / sessions
    # With nightly maintenance a table holds its closed months' few files plus the open month's daily
    # ones; the first month's commits are the commits into such a table.
    maintained = statistics.median(writes.daily_commits[1:22])
    backfill = f"Delta, commits of {writes.sessions_per_commit} sessions"
    print("\nwrites")
    print(f"  {'first release, one file per partition':<46} {writes.rows / writes.old:>10,.0f} rows/s")
    print(
        f"  {backfill:<46} {writes.rows / writes.backfill:>10,.0f} rows/s  "
        f"x{writes.old / writes.backfill:.2f} of the first release"
    )
    for label, seconds in (
        ("Delta, one session per commit, 252 files kept", daily_partition),
        ("Delta, one session per commit, a month's files", maintained),
    ):
        print(
            f"  {label:<46} {writes.rows / sessions / seconds:>10,.0f} rows/s  "
            f"x{old_partition / seconds:.2f}  ({seconds * 1000:.0f} ms a partition, "
            f"first release {old_partition * 1000:.0f} ms)"
        )


def print_reads(reads: dict[str, float], sessions: int) -> None:
    floors = {
        "symbol": reads["symbol: floor, the rows alone in one file"],
        "session": reads["session: first release's file"],
    }
    titles = {
        "symbol": f"one symbol x {sessions} sessions (ratio to the same rows alone in one file)",
        "session": "every symbol of one session (ratio to the first release's file of that partition)",
    }
    for kind in ("symbol", "session"):
        print(f"\n{titles[kind]}")
        for name, seconds in reads.items():
            if name.startswith(kind):
                label = name.split(": ", 1)[1]
                print(f"  {label:<46} {seconds * 1000:8.1f} ms  x{seconds / floors[kind]:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    last = calendar.session_on_or_before(args.today.replace(day=1) - dt.timedelta(days=1))
    sessions = calendar.sessions(last - dt.timedelta(days=2 * args.sessions), last)[-args.sessions :]
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    target, middle = symbols[len(symbols) // 2], sessions[len(sessions) // 2]
    print(
        f"{args.symbols} symbols x {len(sessions)} sessions ({sessions[0]}..{sessions[-1]}) of 1-minute "
        f"bars; reads: {target} over every session, every symbol on {middle}"
    )
    config = load_config()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        database = MarketDatabase(f"sqlite:///{root / 'market.db'}")
        tables = lake_tables(Lake(str(root / "delta")), config, database)
        daily = lake_tables(Lake(str(root / "daily")), config, database)
        writes = write_everything(
            root, tables, daily=daily, symbols=symbols, sessions=sessions, target=target
        )
        print_writes(writes, len(sessions))
        old_file = root / "old" / DATASET.value / f"date={middle}" / f"layer={LAYER}" / "data.parquet"
        measure = Reads(
            root / "old", root / "floor.parquet", old_file, target, middle, sessions, args.repeats
        )
        reads = measure.baselines()
        reads |= measure.delta(daily, "Delta, daily commits, before maintenance")
        reads |= measure.delta(tables, f"Delta, commits of {writes.sessions_per_commit} sessions")
        started = time.perf_counter()
        report = maintain_table(daily, DATASET, args.today, run_id="benchmark")
        print(
            f"\nmaintenance of the daily table in {time.perf_counter() - started:.1f} s: {report.summary()}"
        )
        reads |= measure.delta(daily, "Delta, daily commits, after maintenance")
        maintain_table(tables, DATASET, args.today, run_id="benchmark")
        reads |= measure.delta(tables, f"Delta, commits of {writes.sessions_per_commit} sessions, maintained")
        database.dispose()
    print_reads(reads, len(sessions))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


@dataclasses.dataclass(frozen=True)
class Reads:
    """The reads measured, each checked for the row count it must return."""

    old_root: Path
    floor: Path
    old_file: Path
    symbol: str
    session: dt.date
    sessions: list[dt.date]
    repeats: int

    def delta(self, tables: LakeTables, label: str) -> dict[str, float]:
        """Median seconds of the two reads through ``LakeTables.read`` (what every reader uses)."""
        first, last = self.sessions[0], self.sessions[-1]
        return self._checked(
            {
                f"symbol: {label}": best_of(
                    self.repeats, lambda: tables.read(DATASET, symbols=[self.symbol], start=first, end=last)
                ),
                f"session: {label}": best_of(
                    self.repeats, lambda: tables.read(DATASET, sessions=[self.session])
                ),
            }
        )

    def baselines(self) -> dict[str, float]:
        old = first_release_dataset(self.old_root)
        return self._checked(
            {
                "symbol: floor, the rows alone in one file": best_of(
                    self.repeats, lambda: pq.read_table(self.floor)
                ),
                "symbol: first release (pyarrow, hive)": best_of(
                    self.repeats, lambda: old.to_table(filter=pc.field("symbol") == self.symbol)
                ),
                "session: first release's file": best_of(self.repeats, lambda: pq.read_table(self.old_file)),
            }
        )

    def _checked(self, found: dict[str, tuple[float, int]]) -> dict[str, float]:
        symbol_rows = pq.ParquetFile(self.floor).metadata.num_rows
        session_rows = pq.ParquetFile(self.old_file).metadata.num_rows
        for name, (_, rows) in found.items():
            expected = session_rows if name.startswith("session") else symbol_rows
            assert rows == expected, f"{name}: {rows} rows, expected {expected}"
        return {name: seconds for name, (seconds, _) in found.items()}


if __name__ == "__main__":
    main()
