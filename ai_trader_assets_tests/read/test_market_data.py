"""MarketData on real storage (both database engines, Delta tables on disk): every key once across hot
and cold, the same answer before and after retention moves rows, reproducible reads, clear errors."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.read import MarketData, ReadError
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit, literal
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.retention import RetentionEngine
from ai_trader_assets_tests.support.lake import demo_frame
from ai_trader_assets_tests.support.platform import Platform

AS_OF = dt.date(2026, 11, 20)
DAY, FIVE = Dataset.BARS_1DAY, Dataset.BARS_5MIN
ACTIVE = ["AAPL", "MSFT"]  # layer 3


def sessions_back(n: int) -> dt.date:
    return calendar.sessions(AS_OF - dt.timedelta(days=2 * n + 10), AS_OF)[-n]


@pytest.fixture
def platform(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """The demo provider's data written by the real assets (no provider key: the demo provider)."""
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    CompaniesRepository(market_db).upsert(
        [{"symbol": s, "layer": 3} for s in ACTIVE] + [{"symbol": "F", "layer": 0}], source="test"
    )
    return Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF)


def reader(platform: Platform, today: dt.date = AS_OF) -> MarketData:
    return MarketData(platform.database, platform.lake, today=today)


def expected_bars(dataset: Dataset, first: dt.date, last: dt.date) -> pd.DataFrame:
    """What the demo provider served, computed independently of storage."""
    frame = demo_frame(dataset, ACTIVE, first, last)
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


@pytest.mark.parametrize("dataset", [DAY, FIVE])
def test_a_range_spanning_hot_and_cold_returns_every_key_once_before_and_after_retention(
    platform: Platform, dataset: Dataset
) -> None:
    window = load_config().window(3, dataset)
    assert window is not None
    first = sessions_back(window.hot_days + 15)  # older than the hot window: cold only
    assert platform.materialize(dataset, f"{first}|3", f"{AS_OF}|3").success
    hot = platform.hot(dataset)
    assert 0 < len(hot) < len(expected_bars(dataset, first, AS_OF))  # the range spans the boundary

    data = reader(platform)
    before = data.bars(ACTIVE, dataset.value.removeprefix("bars_"), first, AS_OF)
    expected = expected_bars(dataset, first, AS_OF)
    assert not before.duplicated(["symbol", "ts"]).any()
    assert before["ts"].dt.tz is not None and str(before["ts"].dt.tz) == "UTC"
    assert before["close"].dtype == np.float64
    pd.testing.assert_frame_equal(
        before[["symbol", "ts", "open", "high", "low", "close", "volume"]].astype({"symbol": object}),
        expected[["symbol", "ts", "open", "high", "low", "close", "volume"]].astype({"symbol": object}),
        check_dtype=False,
    )
    assert data.last_read is not None and data.last_read.versions[dataset.value] is not None

    later = AS_OF + dt.timedelta(days=20)
    counts = RetentionEngine(platform.database, platform.lake, load_config(), later).run()
    assert counts[(dataset.value, "3")].deleted > 0  # retention really moved rows out of hot
    after = reader(platform, today=later).bars(ACTIVE, dataset.value.removeprefix("bars_"), first, AS_OF)
    pd.testing.assert_frame_equal(after, before)


def test_rows_hot_holds_and_cold_does_not_yet_come_from_hot(platform: Platform) -> None:
    first = sessions_back(5)
    assert platform.materialize(DAY, f"{first}|3", f"{AS_OF}|3").success
    complete = reader(platform).bars(ACTIVE, "1day", first, AS_OF)
    # The newest session leaves cold (as if its cold copy were not written yet); hot still has it.
    platform.tables.delete(DAY, f"session = {literal(AS_OF)}", Commit("test", "cold-lags"))
    assert platform.cold(DAY, AS_OF, 3) is None
    data = reader(platform)
    served = data.bars(ACTIVE, "1day", first, AS_OF)
    pd.testing.assert_frame_equal(served, complete)
    assert data.last_read is not None and data.last_read.rows_hot == len(ACTIVE)


def test_a_symbol_stored_under_an_earlier_layer_is_read_whole(platform: Platform) -> None:
    """The cold read skips layers a symbol never held; one it held before a promotion is read."""
    first = sessions_back(10)
    CompaniesRepository(platform.database).set_layer("F", 1)
    assert platform.materialize(DAY, f"{first}|1", f"{AS_OF}|1").success
    CompaniesRepository(platform.database).set_layer("F", 3)  # promoted: its rows stay labelled 1
    with platform.database.begin() as conn:
        conn.exec_driver_sql("DELETE FROM bars_1day")  # cold only
    bars = reader(platform).bars("F", "1day", first, AS_OF)
    assert len(bars) == len(calendar.sessions(first, AS_OF))


def test_news_and_corporate_actions_read_back_what_was_stored(platform: Platform) -> None:
    first = sessions_back(40)
    for dataset in (Dataset.NEWS, Dataset.CORPORATE_ACTIONS):
        assert platform.materialize(dataset, f"{first}|3", f"{AS_OF}|3").success
    data = reader(platform)
    news = data.news(ACTIVE, first, AS_OF)
    stored = demo_frame(Dataset.NEWS, ACTIVE, first, AS_OF)
    assert sorted(news["id"]) == sorted(stored["id"]) and not news["id"].duplicated().any()
    assert news["published_utc"].is_monotonic_increasing
    actions = data.corporate_actions(ACTIVE, first, AS_OF)
    expected = demo_frame(Dataset.CORPORATE_ACTIONS, ACTIVE, first, AS_OF)
    expected = expected[(expected["ex_date"] >= first) & (expected["ex_date"] <= AS_OF)]
    assert sorted(actions["id"]) == sorted(expected["id"])


def test_a_pinned_version_reads_the_same_rows_after_new_writes(platform: Platform) -> None:
    first = sessions_back(3)
    assert platform.materialize(DAY, f"{first}|3").success
    data = reader(platform)
    original = data.bars(ACTIVE, "1day", first, AS_OF)
    assert data.last_read is not None
    version = data.last_read.versions["bars_1day"]
    assert version is not None
    assert platform.materialize(DAY, f"{first}|3", f"{AS_OF}|3").success
    assert len(data.bars(ACTIVE, "1day", first, AS_OF)) > len(original)
    pinned = data.bars(ACTIVE, "1day", first, AS_OF, version=version)
    pd.testing.assert_frame_equal(pinned, original)
    assert data.last_read.versions["bars_1day"] == version


def test_arrow_and_polars_outputs_hold_the_same_rows(platform: Platform) -> None:
    first = sessions_back(3)
    assert platform.materialize(DAY, f"{first}|3", f"{AS_OF}|3").success
    data = reader(platform)
    frame = data.bars(ACTIVE, "1day", first, AS_OF)
    table = data.bars(ACTIVE, "1day", first, AS_OF, output="arrow")
    polars = data.bars(ACTIVE, "1day", first, AS_OF, output="polars")
    assert isinstance(table, pa.Table) and isinstance(polars, pl.DataFrame)
    assert table.num_rows == polars.height == len(frame)
    assert table.column("close").to_pylist() == frame["close"].tolist()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d.bars("ZZZZ", "1day", "2026-11-02", "2026-11-06"), "unknown symbol ZZZZ"),
        (lambda d: d.bars("AAPL", "2hours", "2026-11-02", "2026-11-06"), "unknown interval '2hours'"),
        (lambda d: d.bars("AAPL", "7min", "2026-11-02", "2026-11-06"), "must divide an hour"),
        (lambda d: d.bars("AAPL", "1day", "2026-11-06", "2026-11-02"), "start 2026-11-06 is after end"),
        (lambda d: d.bars("AAPL", "1day", "2026-11-02", "2026-12-24"), "end 2026-12-24 is in the future"),
        (lambda d: d.bars("F", "1min", "2026-11-02", "2026-11-06"), "F is layer 0 and has never been"),
        (lambda d: d.bars("AAPL", "1day", "2026-11-02", "2026-11-06", adjust="dividends"), "unknown adjust"),
        (lambda d: d.bars("AAPL", "1day", "2026-11-02", "2026-11-06", version="yesterday"), "version"),
        (lambda d: d.bars("AA PL", "1day", "2026-11-02", "2026-11-06"), "invalid symbol"),
        (lambda d: d.news("F", "2026-11-02", "2026-11-06"), "ingests news"),
        (lambda d: d.bars("AAPL", "1day", "2026-11-02", "2026-11-06", as_of="2027-01-01"), "as_of 2027"),
    ],
)
def test_a_bad_request_is_one_line_naming_the_problem(platform: Platform, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReadError, match=message) as raised:
        call(reader(platform))
    assert "\n" not in str(raised.value)


def test_an_empty_result_says_why(platform: Platform) -> None:
    data = reader(platform)
    assert data.bars("AAPL", "1day", "2026-11-07", "2026-11-08").empty  # a weekend
    assert data.last_read is not None and data.last_read.empty_reason is not None
    assert data.last_read.empty_reason.startswith("no NYSE session")
    assert platform.materialize(DAY, f"{AS_OF}|3").success
    assert data.bars("AAPL", "1day", "2020-01-02", "2020-01-31").empty
    assert data.last_read.empty_reason.startswith("outside every retention window")
    assert data.bars("AAPL", "1day", "2026-11-02", "2026-11-06").empty
    assert data.last_read.empty_reason.startswith("not yet fetched")
    assert "(ai-trader backfill --symbols AAPL --datasets bars_1day)" in data.last_read.empty_reason


def test_an_empty_answer_of_a_fetched_range_says_nothing_was_there_to_store(platform: Platform) -> None:
    """From coverage, whatever the lake holds: the corporate_actions table does not exist here."""
    data = reader(platform)
    assert platform.materialize(Dataset.CORPORATE_ACTIONS, f"{AS_OF}|3").success  # none that day
    assert data.corporate_actions("AAPL,MSFT", str(AS_OF), str(AS_OF)).empty
    assert data.last_read is not None and data.last_read.empty_reason is not None
    assert data.last_read.empty_reason == (
        f"fetched {AS_OF}..{AS_OF}, nothing to store: the provider had no corporate actions of these "
        "symbols then"
    )
    # A wider range: what was fetched is said, and what was not, with the command that fetches it.
    assert data.corporate_actions("AAPL,MSFT", "2026-11-19", str(AS_OF)).empty
    assert data.last_read.empty_reason.endswith(
        "; 2 symbol-session(s) not yet fetched "
        "(ai-trader backfill --symbols AAPL,MSFT --datasets corporate_actions)"
    )


def test_a_range_before_a_symbols_first_data_says_so(platform: Platform) -> None:
    """Coverage that records sessions fetched with nothing, then a first session with rows (a listing)."""
    first_bars = sessions_back(3)
    with platform.database.begin() as conn:
        Ledger(platform.database).record_many(
            conn,
            DAY,
            {s: {"AAPL": 0} for s in calendar.sessions(sessions_back(10), sessions_back(4))}
            | {first_bars: {"AAPL": 1}},
        )
    data = reader(platform)
    assert data.bars("AAPL", "1day", str(sessions_back(10)), str(sessions_back(5))).empty
    assert data.last_read is not None
    assert data.last_read.empty_reason == (
        f"before these symbols' first 1day bars (AAPL from {first_bars}): fetched, nothing to store"
    )


def test_a_reader_sees_a_promotion_at_its_next_read(platform: Platform) -> None:
    """Symbols' layers are remembered between reads only until the next qualification event."""
    data = reader(platform)
    with pytest.raises(ReadError, match="F is layer 0"):
        data.bars("F", "1min", "2026-11-16", "2026-11-20")
    CompaniesRepository(platform.database).set_layer("F", 2)
    assert data.bars("F", "1min", "2026-11-16", "2026-11-20").empty  # allowed now: nothing stored yet
    assert data.last_read is not None and data.last_read.empty_reason is not None
    assert data.last_read.empty_reason.startswith("not yet fetched")


def test_a_renamed_company_reads_as_one_history_under_the_name_asked_for(platform: Platform) -> None:
    """FB's daily bars before 2022-06-09 and META's from then on, read as META over 2022, no gap."""
    companies = CompaniesRepository(platform.database)
    companies.upsert([{"symbol": "FB", "layer": 1}, {"symbol": "META", "layer": 0}], source="test")
    renamed = dt.date(2022, 6, 9)
    year = calendar.sessions(dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    before = [s for s in year if s < renamed]
    layout = LAYOUTS[DAY]
    for symbol, sessions in (("FB", before), ("META", [s for s in year if s >= renamed])):
        frame = demo_frame(DAY, [symbol], sessions[0], sessions[-1])
        platform.tables.upsert(DAY, layout.to_arrow(frame, 1), Commit("test", f"{symbol} history"))
    # FB's name was reused later by another company: its rows after the rename are not META's.
    reused = demo_frame(DAY, ["FB"], dt.date(2022, 6, 9), dt.date(2022, 6, 10))
    platform.tables.upsert(DAY, layout.to_arrow(reused, 1), Commit("test", "FB reused"))
    assert companies.record_rename("FB", "META", renamed, source="test")
    assert companies.layer_of("META") == 1 and companies.layer_of("FB") is None

    bars = reader(platform).bars("META", "1day", year[0], year[-1])
    sessions = list(bars["ts"].dt.tz_convert("America/New_York").dt.date)
    assert sessions == year and set(bars["symbol"]) == {"META"}  # every session once, no gap
    fb = demo_frame(DAY, ["FB"], before[0], before[-1])
    assert bars["close"].iloc[: len(before)].tolist() == fb["close"].tolist()
    meta = demo_frame(DAY, ["META"], renamed, year[-1])
    assert bars["close"].iloc[len(before) :].tolist() == meta["close"].tolist()
    only_fb = reader(platform).bars("FB", "1day", year[0], year[-1])  # the old name reads as it was
    assert len(only_fb) == len(before) + 2
