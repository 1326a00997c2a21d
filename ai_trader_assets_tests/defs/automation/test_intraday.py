"""The issue's intraday acceptance, in-process on both engines against the local Polygon server: with
the clock at 11:00 New York, layer 3's 1-minute bars up to 10:59 are stored (the 11:00 bar is still
forming); at 11:05 only the five new bars are asked for; after the close the session is complete and
the daily ingest asks for nothing more."""

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.automation.intraday import build_freshness_checks
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.ingest import Ingestor, IngestRequest
from ai_trader_assets.planning.intraday import freshness
from ai_trader_assets.providers.base import ProviderResult
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.support.platform import Platform, metadata
from ai_trader_assets_tests.support.polygon_server import PolygonServer

SESSION = dt.date(2026, 11, 20)  # a Friday, a full session
LAYER = 3
MEMBERS = ["AAPL", "MSFT"]
KEY = "pk_SENTINEL_intraday"
MINUTE = Dataset.BARS_1MIN


def new_york(hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(SESSION, dt.time(hour, minute), calendar.NEW_YORK)


class Desk:
    """The platform, its Polygon server and one clock for both."""

    def __init__(self, platform: Platform, server: PolygonServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.platform = platform
        self.server = server
        self.monkeypatch = monkeypatch

    def at(self, hour: int, minute: int) -> None:
        self.server.clock = new_york(hour, minute)
        self.monkeypatch.setenv("AI_TRADER_AS_OF", new_york(hour, minute).strftime("%Y-%m-%dT%H:%M"))

    def refresh(self, dataset: Dataset = MINUTE) -> dg.ExecuteInProcessResult:
        self.server.requests.clear()
        result = self.platform.materialize(dataset, f"{SESSION}|{LAYER}")
        assert result.success
        return result

    def stored(self, dataset: Dataset = MINUTE) -> pd.DataFrame:
        return self.platform.tables.frame(dataset, sessions=[SESSION], layers=[LAYER])

    def asked_from(self) -> list[str]:
        """The ``from`` of each aggregates request (a date, or a Unix millisecond timestamp)."""
        return [r.path.split("/")[-2] for r in self.server.requests_to("/v2/aggs/ticker/")]


@pytest.fixture
def desk(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    providers = yaml.safe_load((config / "providers.yaml").read_text())
    providers["providers"]["polygon"]["rate_limit"].update(requests_per_minute=60_000, burst=1000)
    (config / "providers.yaml").write_text(yaml.safe_dump(providers))
    with PolygonServer(KEY, market=MEMBERS) as server:
        for name, value in {
            "AI_TRADER_DATABASE_URL": market_db.url.render_as_string(hide_password=False),
            "AI_TRADER_LAKE_URL": str(tmp_path / "lake"),
            "AI_TRADER_HOME": str(tmp_path / "home"),
            "AI_TRADER_CONFIG_DIR": str(config),
            "AI_TRADER_PROVIDER": "polygon",
            "POLYGON_API_KEY": KEY,
            "POLYGON_BASE_URL": server.url,
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "BENZINGA_API_KEY", "MASSIVE_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        CompaniesRepository(market_db).upsert([{"symbol": s, "layer": LAYER} for s in MEMBERS], source="test")
        yield Desk(Platform(market_db, Lake(str(tmp_path / "lake")), SESSION), server, monkeypatch)


def test_the_open_session_is_stored_as_its_bars_end_and_completed_after_the_close(
    desk: Desk, market_db: MarketDatabase
) -> None:
    ledger = Ledger(market_db)
    expected = session_bars(MEMBERS, SESSION, MINUTE).set_index(["symbol", "ts"])

    desk.at(11, 0)
    first = desk.refresh()
    stored = desk.stored()
    newest = stored.groupby("symbol")["ts"].max()
    assert (newest == pd.Timestamp(new_york(10, 59))).all() and set(newest.index) == set(MEMBERS)
    assert (stored.groupby("symbol").size() == 90).all()  # 09:30 .. 10:59
    # The values are the finished bars' (the server's forming 11:00 bar was dropped, not stored).
    got = stored.set_index(["symbol", "ts"])[["open", "close", "volume"]]
    want = expected.loc[got.index, ["open", "close", "volume"]]
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_index_type=False)
    assert metadata(first, MINUTE)["bars still forming (stored by a later run)"] == len(MEMBERS)
    assert desk.platform.hot(MINUTE)["ts"].max() == pd.Timestamp(new_york(10, 59))
    # Partial: not covered, stored through 11:00; completeness knows what could exist by then.
    assert ledger.covered(MINUTE, [SESSION], MEMBERS) == set()
    assert {pair: through for pair, (_, through) in ledger.partial(MINUTE, [SESSION], MEMBERS).items()} == {
        (SESSION, s): new_york(11, 0) for s in MEMBERS
    }
    completeness = {c.check_name: c for c in first.get_asset_check_evaluations()}["completeness"]
    assert completeness.passed

    desk.at(11, 5)
    second = desk.refresh()
    assert desk.asked_from() == [str(int(new_york(11, 0).timestamp() * 1000))] * len(MEMBERS)
    assert metadata(second, MINUTE)["rows"] == 5 * len(MEMBERS)
    stored = desk.stored()
    assert (stored.groupby("symbol").size() == 95).all() and stored["ts"].max() == pd.Timestamp(
        new_york(11, 4)
    )
    assert ledger.partial(MINUTE, [SESSION], MEMBERS)[(SESSION, "AAPL")] == (95, new_york(11, 5))

    desk.at(16, 0)  # the refresh at the close completes the session
    closing = desk.refresh()
    stored = desk.stored()
    assert (stored.groupby("symbol").size() == 390).all()
    assert not stored.duplicated(["symbol", "ts"]).any()
    assert ledger.covered_rows(MINUTE, [SESSION], MEMBERS) == {(SESSION, s): 390 for s in MEMBERS}
    assert ledger.partial(MINUTE, [SESSION], MEMBERS) == {}
    assert metadata(closing, MINUTE)["bars still forming (stored by a later run)"] == 0

    desk.at(17, 30)  # the daily ingest after the close
    daily = desk.refresh()
    assert desk.asked_from() == []
    assert metadata(daily, MINUTE)["provider requests"] == 0


def test_a_session_left_partial_is_completed_by_the_next_run_after_the_close(desk: Desk) -> None:
    desk.at(10, 0)
    desk.refresh(Dataset.BARS_5MIN)
    assert (desk.stored(Dataset.BARS_5MIN).groupby("symbol").size() == 6).all()  # 09:30 .. 09:55
    desk.at(17, 30)  # no refresh came between: the daily ingest fetches the rest only
    desk.refresh(Dataset.BARS_5MIN)
    assert desk.asked_from() == [str(int(new_york(10, 0).timestamp() * 1000))] * len(MEMBERS)
    stored = desk.stored(Dataset.BARS_5MIN)
    assert (stored.groupby("symbol").size() == 78).all()
    expected = session_bars(MEMBERS, SESSION, Dataset.BARS_5MIN)
    assert sorted(stored["ts"].unique()) == sorted(expected["ts"].unique())


def test_daily_bars_news_and_actions_of_a_trading_session_wait_for_the_close(
    desk: Desk, market_db: MarketDatabase
) -> None:
    desk.at(11, 0)
    result = desk.refresh(Dataset.BARS_1DAY)
    assert desk.server.requests_to("/v2/aggs/") == [] and desk.stored(Dataset.BARS_1DAY).empty
    assert "still trading" in metadata(result, Dataset.BARS_1DAY)["notes"]
    desk.refresh(Dataset.NEWS)
    assert Ledger(market_db).covered(Dataset.NEWS, [SESSION], MEMBERS) == set()  # refetched after the close
    assert set(Ledger(market_db).partial(Dataset.NEWS, [SESSION], MEMBERS)) == {(SESSION, s) for s in MEMBERS}
    desk.at(17, 30)
    desk.refresh(Dataset.BARS_1DAY)
    assert len(desk.stored(Dataset.BARS_1DAY)) == len(MEMBERS)
    desk.refresh(Dataset.NEWS)
    assert Ledger(market_db).covered(Dataset.NEWS, [SESSION], MEMBERS) == {(SESSION, s) for s in MEMBERS}


def test_freshness_fails_when_the_newest_bar_is_older_than_two_refreshes(
    desk: Desk, market_db: MarketDatabase
) -> None:
    config = load_config()
    (spec,) = [s for s in config.pipeline.intraday if s.layer == LAYER]
    assert spec.every_minutes == 5

    def check(hour: int, minute: int) -> tuple[bool, dict[str, str | int]]:
        result = freshness(market_db, desk.platform.lake, config, spec, MINUTE, now=new_york(hour, minute))
        return result.passed, result.metadata

    assert check(9, 35)[0]  # less than two refreshes since the open: nothing expected yet
    passed, facts = check(9, 45)
    assert not passed and facts["stale"] == len(MEMBERS) and facts["stale symbols"] == "AAPL, MSFT"
    desk.at(11, 0)
    desk.refresh()  # newest bar 10:59, ends 11:00
    assert check(11, 5)[0] and check(11, 10)[0]
    passed, facts = check(11, 11)
    assert not passed and facts["stale"] == 2 and facts["newest bar must end after"] == "2026-11-20 11:01"
    assert check(16, 30)[0]  # closed: nothing to be fresh about
    assert check(12, 0)[1]["members"] == len(MEMBERS)


def test_the_freshness_checks_run_in_dagster_one_per_asset_and_layer(desk: Desk) -> None:
    specs = load_config().pipeline.intraday
    checks = build_freshness_checks(specs)
    desk.at(11, 0)
    desk.refresh()
    desk.at(11, 15)  # layer 3's 1-minute bars end at 11:00: older than two 5-minute refreshes
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(checks))
    definitions = dg.Definitions(
        assets=[desk.platform.asset(d) for d in (MINUTE, Dataset.BARS_5MIN, Dataset.TICKS)],
        asset_checks=[checks],
        jobs=[job],
        resources=resources().resources,
    )
    with dg.instance_for_test() as instance:
        result = definitions.resolve_job_def("freshness").execute_in_process(instance=instance)
    evaluations = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        ("bars_1min", "intraday_freshness_layer_3"),
        ("bars_5min", "intraday_freshness_layer_3"),
        ("bars_5min", "intraday_freshness_layer_2"),
        ("ticks", "intraday_freshness_layer_3"),
    }
    assert not evaluations[("ticks", "intraday_freshness_layer_3")].passed  # never refreshed
    assert not evaluations[("bars_1min", "intraday_freshness_layer_3")].passed
    assert not evaluations[("bars_5min", "intraday_freshness_layer_3")].passed  # never refreshed
    layer_2 = evaluations[("bars_5min", "intraday_freshness_layer_2")]
    assert layer_2.passed and layer_2.metadata["members"].value == 0  # layer 2 has no members here
    assert result.success  # a failed check is a finding, not a failed run

    # A refresh run (the schedule's selection: the assets, and so all their checks) evaluates the
    # asset's own checks and the intraday ones after storing: at 11:15, fresh again.
    refresh = definitions.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("bars_1min")}
    )
    with dg.instance_for_test() as instance:
        result = refresh.execute_in_process(instance=instance, partition_key=f"{SESSION}|{LAYER}")
    assert result.success
    evaluations = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert {"integrity", "completeness", "freshness", "intraday_freshness_layer_3"} <= {
        name for asset, name in evaluations if asset == "bars_1min"
    }
    assert evaluations[("bars_1min", "intraday_freshness_layer_3")].passed


class DelayedFeed(DemoProvider):
    """The demo behind a 15-minute delay (Polygon's Starter plan, Alpaca's SIP on a free plan)."""

    def __init__(self) -> None:
        self.now = new_york(11, 0)
        super().__init__(clock=lambda: self.now)

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        return self._delayed(super().bars(symbols, dataset, start, end, since))

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        return self._delayed(super().grouped_daily_bars(session, symbols))

    def _delayed(self, result: ProviderResult) -> ProviderResult:
        cut = self.now - dt.timedelta(minutes=15)
        # A delayed feed's daily bar of the day is what had traded by the cut (here: the whole day's).
        return dataclasses.replace(result, served_until=cut)


def test_a_delayed_feed_is_asked_again_for_what_it_held_back(
    market_db: MarketDatabase, tmp_path: Path
) -> None:
    CompaniesRepository(market_db).upsert([{"symbol": s, "layer": LAYER} for s in MEMBERS], source="test")
    config, ledger, feed = load_config(), Ledger(market_db), DelayedFeed()
    lake = Lake(str(tmp_path / "lake"))

    def stored(dataset: Dataset) -> pd.DataFrame:
        return lake_tables(lake, config).frame(dataset, sessions=[SESSION], layers=[LAYER])

    def run(dataset: Dataset, hour: int, minute: int) -> None:
        feed.now = new_york(hour, minute)
        ingestor = Ingestor(feed, CompaniesRepository(market_db), ledger, config)
        request = IngestRequest(dataset, [(SESSION, LAYER)], SESSION, now=feed.now)
        writer = PartitionWriter(market_db, lake, config, SESSION, f"run at {feed.now}")
        for piece in ingestor.stream(request):
            writer.write(piece, WriteTotals())

    def through(dataset: Dataset) -> set[dt.datetime]:
        return {t for _, t in ledger.partial(dataset, [SESSION], MEMBERS).values()}

    run(MINUTE, 11, 0)
    assert through(MINUTE) == {new_york(10, 45)}
    run(MINUTE, 16, 0)  # closed, but the feed has served only up to 15:45: still partial
    assert through(MINUTE) == {new_york(15, 45)} and ledger.covered(MINUTE, [SESSION], MEMBERS) == set()
    run(MINUTE, 16, 20)
    assert ledger.covered_rows(MINUTE, [SESSION], MEMBERS) == {(SESSION, s): 390 for s in MEMBERS}
    minutes = stored(MINUTE)
    assert (minutes.groupby("symbol").size() == 390).all() and not minutes.duplicated(["symbol", "ts"]).any()

    run(Dataset.BARS_1DAY, 16, 5)  # the daily bar of a session served to 15:50 is not a day's bar
    assert ledger.covered(Dataset.BARS_1DAY, [SESSION], MEMBERS) == set()
    assert stored(Dataset.BARS_1DAY).empty
    run(Dataset.BARS_1DAY, 16, 20)
    assert len(stored(Dataset.BARS_1DAY)) == len(MEMBERS)


def test_a_bar_still_forming_is_never_stored_even_after_the_close(market_db: MarketDatabase) -> None:
    """Polygon and Alpaca serve extended hours: at 16:00:30 the 16:00 after-hours bar is forming."""
    CompaniesRepository(market_db).upsert([{"symbol": s, "layer": LAYER} for s in MEMBERS], source="test")
    now = new_york(16, 0) + dt.timedelta(seconds=30)

    class ExtendedHours(DemoProvider):
        def bars(
            self,
            symbols: Sequence[str],
            dataset: Dataset,
            start: dt.date,
            end: dt.date,
            since: dt.datetime | None = None,
        ) -> ProviderResult:
            result = super().bars(symbols, dataset, start, end, since)
            last = result.frame.groupby("symbol").tail(1)
            forming = last.assign(ts=pd.Timestamp(new_york(16, 0))).astype({"ts": result.frame["ts"].dtype})
            frame = pd.concat([result.frame, forming], ignore_index=True)
            return dataclasses.replace(result, frame=frame)

    ingestor = Ingestor(
        ExtendedHours(clock=lambda: now), CompaniesRepository(market_db), Ledger(market_db), load_config()
    )
    (data,), report = ingestor.run(IngestRequest(MINUTE, [(SESSION, LAYER)], SESSION, now=now))
    assert report.not_ended == len(MEMBERS) and data.through is None  # closed: stored whole
    assert data.frame["ts"].max() == pd.Timestamp(new_york(15, 59)) and len(data.frame) == 390 * len(MEMBERS)
