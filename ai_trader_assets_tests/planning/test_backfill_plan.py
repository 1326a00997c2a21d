"""Backfill planning on both engines: selections, windows, the user's --days, the request estimate."""

import datetime as dt

import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import RateLimit, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.planning.backfill_plan import (
    BackfillPlanError,
    BackfillPlanner,
    parse_datasets,
    seconds_at_rate_limit,
)
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger

TODAY = dt.date(2026, 11, 20)  # a Friday session
UNIVERSE = {"AAPL": 3, "MSFT": 3, "NVDA": 2, "IBM": 1, "F": 0, "GE": 0, "OLD": None}


@pytest.fixture
def planner(market_db: MarketDatabase) -> BackfillPlanner:
    CompaniesRepository(market_db).upsert(
        [{"symbol": s, "layer": layer} for s, layer in UNIVERSE.items()], source="test"
    )
    return BackfillPlanner(CompaniesRepository(market_db), Ledger(market_db), load_config(), TODAY, "polygon")


def sessions_in_last(days: int) -> list[dt.date]:
    return calendar.sessions(TODAY - dt.timedelta(days=days - 1), TODAY)


def test_a_layer_with_days_covers_exactly_those_calendar_days_for_every_dataset(
    planner: BackfillPlanner,
) -> None:
    plan = planner.plan("layer3", 30, None)
    (layer,) = plan.layers
    assert layer.layer == 3 and layer.symbols == ("AAPL", "MSFT")
    assert [d.dataset for d in layer.datasets] == list(load_config().layers.layers[3].datasets)
    for d in layer.datasets:
        assert list(d.sessions) == sessions_in_last(30)
        assert d.missing_pairs == len(d.sessions) * 2
    assert plan.partitions == len(layer.datasets) * len(sessions_in_last(30))


def test_without_days_each_dataset_gets_its_layers_cold_window(planner: BackfillPlanner) -> None:
    config = load_config()
    (layer,) = planner.plan("layer1", None, None).layers
    for d in layer.datasets:
        window = config.window(1, d.dataset)
        assert window is not None
        assert list(d.sessions) == sessions_in_last(window.cold_days), d.dataset
        assert d.past_cold_window == 0


def test_days_past_the_cold_window_are_honoured_and_flagged(planner: BackfillPlanner) -> None:
    plan = planner.plan("F", 90, [Dataset.BARS_1DAY])  # layer 0 keeps daily bars 30 days
    (d,) = plan.layers[0].datasets
    assert list(d.sessions) == sessions_in_last(90)
    assert d.past_cold_window == len(sessions_in_last(90)) - len(sessions_in_last(30))
    assert any("past its 30-day cold window" in note for note in plan.notes)


def test_symbols_are_grouped_by_their_current_layer(planner: BackfillPlanner) -> None:
    plan = planner.plan("aapl, NVDA,F,OLD", 10, [Dataset.BARS_1DAY, Dataset.BARS_1MIN])
    assert [(p.layer, p.symbols) for p in plan.layers] == [(3, ("AAPL",)), (2, ("NVDA",)), (0, ("F",))]
    assert [d.dataset for d in plan.layers[-1].datasets] == [Dataset.BARS_1DAY]
    assert any("layer 0 does not ingest bars_1min" in note for note in plan.notes)
    assert any(note.startswith("OLD has no layer") for note in plan.notes)


@pytest.mark.parametrize(
    ("selection", "datasets", "message"),
    [
        ("ZZZ,AAPL", None, "unknown symbol(s) ZZZ"),
        ("layer7", None, "there is no layer 7"),
        ("OLD", None, "none of OLD is in a layer"),
        ("bad$", None, "invalid symbol"),
        ("F", [Dataset.BARS_1MIN], "no selected layer ingests bars_1min"),
    ],
)
def test_bad_selections_name_the_problem(
    planner: BackfillPlanner, selection: str, datasets: list[Dataset] | None, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        planner.plan(selection, 5, datasets)
    assert message in str(raised.value)


def test_an_empty_layer_and_bad_days_and_datasets_are_errors(market_db: MarketDatabase) -> None:
    planner = BackfillPlanner(CompaniesRepository(market_db), Ledger(market_db), load_config(), TODAY, "demo")
    with pytest.raises(BackfillPlanError, match="no symbols in layer2"):
        planner.plan("layer2", 5, None)
    with pytest.raises(BackfillPlanError, match="--days must be at least 1"):
        planner.plan("layer2", 0, None)
    with pytest.raises(BackfillPlanError, match="unknown dataset 'bars_2min'; choose from bars_1day"):
        parse_datasets("bars_1day,bars_2min")
    assert parse_datasets(" news, news ,bars_1day") == (Dataset.NEWS, Dataset.BARS_1DAY)


def test_stored_pairs_are_not_planned_again(planner: BackfillPlanner, market_db: MarketDatabase) -> None:
    sessions = sessions_in_last(10)
    with market_db.begin() as conn:
        for session in sessions[:3]:
            Ledger(market_db).record(conn, Dataset.BARS_1MIN, session, {"AAPL": 390})
    (d,) = planner.plan("layer3", 10, [Dataset.BARS_1MIN]).layers[0].datasets
    assert d.missing_pairs == 2 * len(sessions) - 3
    (full,) = planner.plan("layer3", 10, [Dataset.BARS_1MIN], refresh=True).layers[0].datasets
    assert full.missing_pairs == 2 * len(sessions)


def test_the_estimate_follows_how_the_runs_fetch_and_the_provider_pages(planner: BackfillPlanner) -> None:
    config = load_config()
    page = config.providers.providers["polygon"].page_size("polygon", "aggregates")
    # A year of everything but ticks (a year of trades is tens of runs: below).
    bars_and_records = [d for d in config.layers.layers[3].datasets if d != Dataset.TICKS]
    plan = planner.plan("layer3", 365, bars_and_records)
    by_dataset = {d.dataset: d for d in plan.layers[0].datasets}
    sessions = len(sessions_in_last(365))
    # Two symbols for a year is far below every run budget: one run, and since --days gives every
    # dataset the same sessions, all six datasets share it.
    assert plan.runs == 1 and plan.layers[0].runs[0].datasets == tuple(by_dataset)
    # Daily bars for two symbols: per-symbol requests beat one grouped request per session.
    assert by_dataset[Dataset.BARS_1DAY].requests == 2
    assert by_dataset[Dataset.CORPORATE_ACTIONS].requests == 2 * 2  # splits + dividends
    assert by_dataset[Dataset.NEWS].requests == 2
    # A symbol's year of 1-minute bars is one call, paged at 50,000 bars.
    assert by_dataset[Dataset.BARS_1MIN].requests == 2 * -(-sessions * 390 // page)
    # Layer 0 has many symbols: daily bars come from the grouped endpoint, one request per session.
    (layer0,) = planner.plan("F,GE", 5, [Dataset.BARS_1DAY]).layers
    assert layer0.datasets[0].requests == 2  # 2 symbols, 5 sessions: per symbol is cheaper
    assert plan.requests == sum(d.requests for d in plan.layers[0].datasets)
    # Trades: a symbol-session at a time, paged at 50,000 trades (~500,000 a symbol-session).
    (ticks,) = planner.plan("layer3", 7, [Dataset.TICKS]).layers[0].datasets
    trades = config.pipeline.runs.budget(Dataset.TICKS).rows_per_symbol_session
    pages = -(-int(trades) // config.providers.providers["polygon"].page_size("polygon", "trades"))
    assert ticks.requests == 2 * len(sessions_in_last(7)) * pages


def test_runs_follow_the_rows_not_the_sessions(planner: BackfillPlanner) -> None:
    config = load_config()
    budget = config.pipeline.runs.budget(Dataset.BARS_1MIN)
    plan = planner.plan("layer3", None, None)  # each dataset's cold window: six different ranges
    runs = plan.layers[0].runs
    # Two symbols: every dataset fits one run; datasets with the same window share it.
    windows = {config.window(3, d).cold_days for d in config.layers.layers[3].datasets}  # type: ignore[index, union-attr]
    assert len(runs) == len(windows)
    assert sorted(d for r in runs for d in r.datasets) == sorted(config.layers.layers[3].datasets)  # type: ignore[index]
    # A layer of 2,000 symbols cuts a year of 1-minute bars by rows.
    from ai_trader_assets.planning.runs import backfill_parts

    year = sessions_in_last(365)
    parts = backfill_parts(config, 2_000, {Dataset.BARS_1MIN: year, Dataset.CORPORATE_ACTIONS: year})
    per_run = int(budget.rows_per_run // (2_000 * budget.rows_per_symbol_session))  # sessions a run holds
    assert per_run == 25 and len(parts) == -(-len(year) // per_run)
    assert Dataset.CORPORATE_ACTIONS in parts[0] and all(
        Dataset.CORPORATE_ACTIONS not in p for p in parts[1:]
    )
    assert [s for p in parts for s in p[Dataset.BARS_1MIN]] == year  # every session once, in order


def test_time_at_the_rate_limit_takes_the_tighter_limit() -> None:
    limit = RateLimit(requests_per_second=10, requests_per_minute=300, burst=10, daily_quota=None)
    assert seconds_at_rate_limit(10, limit) == 0
    assert seconds_at_rate_limit(310, limit) == 60  # 300/min binds, not 10/s
    fast = RateLimit(requests_per_second=1, requests_per_minute=6000, burst=1, daily_quota=None)
    assert seconds_at_rate_limit(101, fast) == 100


def test_days_reaching_before_the_first_partition_start_there_and_say_so(planner: BackfillPlanner) -> None:
    """Partitions start where the longest window starts: layers 2 and 3 keep corporate actions 3650 days."""
    start = load_config().partitions_start(TODAY)
    assert start == TODAY - dt.timedelta(days=3649)
    plan = planner.plan("IBM", 20_000, [Dataset.BARS_1DAY])
    (d,) = plan.layers[0].datasets
    assert d.first == calendar.session_on_or_after(start) and d.last == TODAY
    assert any(note.startswith(f"sessions before {start} are not partitions") for note in plan.notes)
    assert not any("not partitions" in note for note in planner.plan("IBM", 30, None).notes)


@pytest.mark.parametrize(
    ("hour", "latest"), [(8, dt.date(2026, 11, 19)), (9, dt.date(2026, 11, 19)), (10, TODAY)]
)
def test_a_backfill_reaches_the_latest_session_that_has_opened(
    market_db: MarketDatabase, hour: int, latest: dt.date
) -> None:
    """Before the open, today's session is not a partition yet: a backfill ends at yesterday's."""
    CompaniesRepository(market_db).upsert([{"symbol": "AAPL", "layer": 3}], source="test")
    now = dt.datetime.combine(TODAY, dt.time(hour, 0), calendar.NEW_YORK)
    planner = BackfillPlanner(
        CompaniesRepository(market_db), Ledger(market_db), load_config(), TODAY, "polygon", now=now
    )
    (layer,) = planner.plan("layer3", 5, [Dataset.BARS_1MIN]).layers
    assert layer.datasets[0].sessions[-1] == latest
