"""Read benchmark: ``MarketData`` against the same rows alone in one Parquet file (the floor) and
against ``pandas.read_sql`` on the hot table, measured in the same run.

Run from the repository root: .venv/bin/python -m benchmarks.read [--database-url URL] [--scale 1.0]

Storage as production holds it after the nightly maintenance, generated (random walks; the values
do not matter, the shapes do) and written through ``LakeTables`` (the Delta tables) and ``HotStore``:
- daily bars of a universe at real layer sizes (10,000 / 2,000 / 500 / 50 symbols x ``--scale``)
  for a year, with a split and quarterly dividends for every layer-2 and layer-3 symbol;
- 1-minute bars of the layer-2 and layer-3 symbols (``--minute-symbols``, default 100) for a year.
The rows each case reads are also put in the hot table (so ``read_sql`` has them; ``MarketData``
still serves them from cold, which holds them all) and alone in one file (the floor).
Cases, each raw and ``adjust="all"``: one symbol x a year of 1-minute bars; layer 2's symbols
(500) x a year of daily bars; every symbol of one session of 1-minute bars. Targets (issue 24,
raw / adjusted, x the floor): the symbol-year <= 2 / 2.5, layer 2's year <= 1.5 / 3, the session
<= 3 (raw).
"""

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS
from ai_trader_assets.datasets.corporate_actions import CORPORATE_ACTION_COLUMNS
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.maintenance import maintain_table
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables

TODAY = dt.date(2027, 1, 8)  # every bucket of the year read is closed: maintenance has clustered it
LAYER_SIZES = {0: 10_000, 1: 2_000, 2: 500, 3: 50}
MINUTES = 390


def profile(cases: list["Case"]) -> None:
    import cProfile  # noqa: PLC0415 - only for --profile
    import pstats  # noqa: PLC0415

    for case in cases:
        for adjust in ("none", "all"):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                case.market_data(adjust)
            profiler.disable()
            print(f"\n== {case.name}, adjust={adjust}")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


@contextlib.contextmanager
def scratch_folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="ai-trader-read-") as scratch:
        yield Path(scratch)


def write_storage(
    database: MarketDatabase,
    *,
    tables: LakeTables,
    layer_of: dict[str, int],
    sessions: list[dt.date],
    minute_symbols: list[str],
    active: list[str],
) -> None:
    """The universe in companies, the bars and actions in the lake, maintained."""
    migrations.upgrade(database)
    CompaniesRepository(database).upsert(
        [{"symbol": s, "layer": layer} for s, layer in layer_of.items()], source="benchmark"
    )
    started = time.perf_counter()
    every = sorted(layer_of)
    daily = random_bars(every, sessions, 1, seed=1)
    store(tables, Dataset.BARS_1DAY, daily, daily["symbol"].map(layer_of).to_numpy(np.int8), "daily")
    actions = actions_for(active, sessions)
    store(tables, Dataset.CORPORATE_ACTIONS, actions, actions["symbol"].map(layer_of).to_numpy(np.int8), "a")
    for chunk in range(0, len(minute_symbols), 10):
        part = random_bars(minute_symbols[chunk : chunk + 10], sessions, MINUTES, seed=chunk + 2)
        store(tables, Dataset.BARS_1MIN, part, part["symbol"].map(layer_of).to_numpy(np.int8), f"m{chunk}")
    written = time.perf_counter() - started
    started = time.perf_counter()
    for dataset in (Dataset.BARS_1DAY, Dataset.BARS_1MIN, Dataset.CORPORATE_ACTIONS):
        maintain_table(tables, dataset, TODAY, run_id="benchmark")
    print(f"written in {written:.0f} s, maintained in {time.perf_counter() - started:.0f} s")


def read_floor(path: Path) -> pd.DataFrame:
    """The rows alone in one file, into the frame MarketData returns (converted the same way)."""
    return pq.read_table(path).to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get, date_as_object=True, split_blocks=True
    )


def interleaved(reads: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds and rows of each read, after one warm-up each; the reads take turns in every
    round, so a noisy moment of the machine weighs on all of them alike."""
    rows = {name: len(read()) for name, read in reads.items()}
    timings: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(repeats):
        for name, read in reads.items():
            started = time.perf_counter()
            read()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}, rows


def random_bars(symbols: list[str], sessions: list[dt.date], per_session: int, seed: int) -> pd.DataFrame:
    """Bars of every symbol for every session: ``per_session`` consecutive minutes from the open (or
    one daily bar at the session's midnight), random-walk prices."""
    rng = np.random.default_rng(seed)
    if per_session == 1:
        starts = np.array([calendar.session_midnight_utc(s) for s in sessions], dtype="datetime64[us]")
        offsets = np.zeros(1, dtype="timedelta64[us]")
    else:
        opens = [calendar.session_open_close(s)[0].replace(tzinfo=None) for s in sessions]
        starts = np.array(opens, dtype="datetime64[us]")
        offsets = np.arange(per_session).astype("timedelta64[m]").astype("timedelta64[us]")
    times = (starts[:, None] + offsets[None, :]).ravel()
    n_symbols, n_times = len(symbols), len(times)
    walk = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, (n_symbols, n_times)), axis=1)).ravel()
    spread = np.abs(rng.normal(0, 0.002, n_symbols * n_times)) * walk
    frame = pd.DataFrame(
        {
            "symbol": np.repeat(np.array(symbols, dtype=object), n_times),
            "ts": pd.to_datetime(np.tile(times, n_symbols), utc=True),
            "open": walk,
            "high": walk + spread,
            "low": walk - spread,
            "close": walk + spread / 2,
            "volume": rng.integers(100, 100_000, n_symbols * n_times).astype("float64"),
            "vwap": walk,
            "trade_count": rng.integers(1, 1000, n_symbols * n_times),
            "source": "benchmark",
            "ingested_at": pd.Timestamp("2027-01-01", tz="UTC"),
        }
    )
    return conform(frame, BAR_COLUMNS)


def actions_for(symbols: list[str], sessions: list[dt.date]) -> pd.DataFrame:
    """A 2:1 split mid-year and four quarterly dividends for each symbol."""
    rows: list[tuple[object, ...]] = []
    for symbol in symbols:
        rows.append((f"{symbol}-split", symbol, "split", sessions[len(sessions) // 2], 1.0, 2.0, None))
        for quarter in range(4):
            ex_date = sessions[20 + quarter * 60]
            rows.append((f"{symbol}-div-{quarter}", symbol, "dividend", ex_date, None, None, 0.24))
    frame = pd.DataFrame(
        rows, columns=["id", "symbol", "action_type", "ex_date", "split_from", "split_to", "cash_amount"]
    )
    frame = frame.assign(
        currency="USD",
        declaration_date=None,
        record_date=None,
        pay_date=None,
        source="benchmark",
        ingested_at=pd.Timestamp("2027-01-01", tz="UTC"),
    )
    return conform(frame, CORPORATE_ACTION_COLUMNS)


def store(tables: LakeTables, dataset: Dataset, frame: pd.DataFrame, layers: np.ndarray, label: str) -> None:
    """Rows into the Delta table in commits of about ``commit_rows`` (as a backfill writes them)."""
    step = tables.spec.commit_rows
    for start in range(0, len(frame), step):
        part = frame.iloc[start : start + step]
        tables.store(dataset, part, layers[start : start + step], Commit("benchmark", f"{label}-{start}"))


@dataclasses.dataclass
class Case:
    name: str
    floor_file: Path
    market_data: Callable[[str], Any]
    read_sql: Callable[[], Any]
    target: float  # the ratio to the floor the issue asks for, raw
    target_adjusted: float | None  # and adjusted


def main() -> None:  # noqa: PLR0915 - one straight script: set-up, cases, table
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in the scratch folder")
    parser.add_argument("--scale", type=float, default=1.0, help="layer sizes x this")
    parser.add_argument("--minute-symbols", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the storage in this folder")
    parser.add_argument("--profile", action="store_true", help="print where MarketData's time goes")
    args = parser.parse_args()

    config = load_config()
    sessions = calendar.sessions(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    sizes = {layer: max(1, int(n * args.scale)) for layer, n in LAYER_SIZES.items()}
    symbols_of = {}
    first = 0
    for layer, size in sizes.items():
        symbols_of[layer] = [f"S{i:05d}" for i in range(first, first + size)]
        first += size
    # Interleave the layers alphabetically, as real tickers are: a layer's symbols are spread out.
    rng = np.random.default_rng(7)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names = [f"{a}{b}{c}{d}" for a in letters for b in letters for c in letters for d in "AEIOU"]
    chosen = rng.choice(len(names), size=first, replace=False)
    rename = {f"S{i:05d}": names[j] for i, j in enumerate(chosen)}
    symbols_of = {layer: sorted(rename[s] for s in members) for layer, members in symbols_of.items()}
    layer_of = {s: layer for layer, members in symbols_of.items() for s in members}
    active = symbols_of[3] + symbols_of[2]
    minute_symbols = sorted(
        symbols_of[3][: args.minute_symbols // 5] + symbols_of[2][: args.minute_symbols * 4 // 5]
    )
    target = minute_symbols[len(minute_symbols) // 2]
    session = sessions[-10]
    print(
        f"universe {'/'.join(str(sizes[n]) for n in sorted(sizes))} symbols; daily bars of all, 1-minute "
        f"bars of {len(minute_symbols)}, {len(sessions)} sessions ({sessions[0]}..{sessions[-1]})"
    )

    with scratch_folder(args.keep) as root:
        database = MarketDatabase(args.database_url or f"sqlite:///{root / 'market.db'}")
        lake = Lake(str(root / "lake"))
        tables = lake_tables(lake, config, database)
        if not (root / "written").exists():
            write_storage(
                database,
                tables=tables,
                layer_of=layer_of,
                sessions=sessions,
                minute_symbols=minute_symbols,
                active=active,
            )
            (root / "written").touch()

        # The rows of each case: alone in one file (the floor), and in the hot table (read_sql).
        reader = MarketData(database, lake, config=config, today=TODAY)
        symbol_year = reader.bars(target, "1min", sessions[0], sessions[-1], output="arrow")
        layer_year = reader.bars(symbols_of[2], "1day", sessions[0], sessions[-1], output="arrow")
        one_session = reader.bars(minute_symbols, "1min", session, session, output="arrow")
        hot = HotStore(database)
        files = {}
        for name, rows, dataset in (
            ("symbol_year", symbol_year, Dataset.BARS_1MIN),
            ("layer_year", layer_year, Dataset.BARS_1DAY),
            ("one_session", one_session, Dataset.BARS_1MIN),
        ):
            files[name] = root / f"{name}.parquet"
            pq.write_table(rows, files[name])
            frame = conform(
                rows.to_pandas().assign(ingested_at=pd.Timestamp("2027-01-01", tz="UTC")), BAR_COLUMNS
            )
            with database.begin() as conn:
                hot.upsert(conn, dataset, frame)

        def sql(table: str, where: str, params: dict[str, object]) -> Callable[[], pd.DataFrame]:
            query = sa.text(f"SELECT * FROM {table} WHERE {where} ORDER BY symbol, ts")

            def read() -> pd.DataFrame:
                with database.engine.connect() as conn:
                    return pd.read_sql(query, conn, params=params)

            return read

        low = calendar.session_midnight_utc(sessions[0]) - dt.timedelta(days=1)
        high = calendar.session_midnight_utc(sessions[-1]) + dt.timedelta(days=1)
        day_low = calendar.session_midnight_utc(session)
        bind: dict[str, object] = {"low": low, "high": high}
        if database.dialect == "sqlite":  # SQLite keeps UTC times as text
            bind = {"low": f"{low:%Y-%m-%d %H:%M:%S}", "high": f"{high:%Y-%m-%d %H:%M:%S}"}
        in_list = ", ".join(f"'{s}'" for s in symbols_of[2])
        day_high = day_low + dt.timedelta(days=1)
        session_bind: dict[str, object] = {"low": day_low, "high": day_high}
        if database.dialect == "sqlite":
            session_bind = {"low": f"{day_low:%Y-%m-%d %H:%M:%S}", "high": f"{day_high:%Y-%m-%d %H:%M:%S}"}
        cases = [
            Case(
                f"{target} x a year of 1-minute bars",
                files["symbol_year"],
                lambda adjust: reader.bars(target, "1min", sessions[0], sessions[-1], adjust=adjust),
                sql(
                    "bars_1min", "symbol = :symbol AND ts >= :low AND ts < :high", {**bind, "symbol": target}
                ),
                2.0,
                2.5,
            ),
            Case(
                f"layer 2 ({len(symbols_of[2])} symbols) x a year of daily bars",
                files["layer_year"],
                lambda adjust: reader.bars(symbols_of[2], "1day", sessions[0], sessions[-1], adjust=adjust),
                sql("bars_1day", f"symbol IN ({in_list}) AND ts >= :low AND ts < :high", bind),
                1.5,
                3.0,
            ),
            Case(
                f"every symbol ({len(minute_symbols)}) of {session}, 1-minute bars",
                files["one_session"],
                lambda adjust: reader.bars(minute_symbols, "1min", session, session, adjust=adjust),
                sql("bars_1min", "ts >= :low AND ts < :high", session_bind),
                3.0,
                None,
            ),
        ]
        print(
            f"\n{'read':<52} {'rows':>9} {'floor':>9} {'read_sql':>9} {'MarketData':>11} {'adjusted':>9}"
            "   x floor (raw / adjusted)   x read_sql   target"
        )
        if args.profile:
            profile(cases)
        for case in cases:
            reads: dict[str, Callable[[], Any]] = {
                "floor": functools.partial(read_floor, case.floor_file),
                "raw": functools.partial(case.market_data, "none"),
                "adjusted": functools.partial(case.market_data, "all"),
            }
            seconds, rows = interleaved(reads, args.repeats)
            # Not in the rotation: half a second of row objects between the others would weigh on
            # them (caches, idle thread pools) and not on itself.
            sql_seconds, sql_rows = interleaved({"sql": case.read_sql}, max(3, args.repeats // 3))
            seconds |= sql_seconds
            rows |= sql_rows
            assert rows["floor"] == rows["sql"] == rows["raw"] == rows["adjusted"], (case.name, rows)
            floor, raw, adjusted = seconds["floor"], seconds["raw"], seconds["adjusted"]
            met = raw / floor <= case.target and (
                case.target_adjusted is None or adjusted / floor <= case.target_adjusted
            )
            goal = f"{case.target:g}" + (
                "" if case.target_adjusted is None else f" / {case.target_adjusted:g}"
            )
            target_text = f"<= {goal}x: {'met' if met else 'MISSED'}"
            print(
                f"{case.name:<52} {rows['floor']:>9,} {floor * 1000:>7.1f}ms {seconds['sql'] * 1000:>7.1f}ms "
                f"{raw * 1000:>9.1f}ms {adjusted * 1000:>7.1f}ms   "
                f"x{raw / floor:>5.2f} / x{adjusted / floor:>5.2f}          x{raw / seconds['sql']:>5.2f}   "
                f"{target_text}"
            )
        database.dispose()


if __name__ == "__main__":
    main()
