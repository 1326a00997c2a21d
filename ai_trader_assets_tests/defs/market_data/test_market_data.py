"""The partitioned assets and the hot/cold IO manager, end to end in-process, on both engines,
against the local Polygon server."""

import datetime as dt
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.market_data.maintenance import maintain_lake
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.planning.gaps import find_gaps
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.storage import backfill_requests
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake, LakeError
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.tables import LakeTables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.retention import RetentionEngine
from ai_trader_assets_tests.support.platform import Platform, lake_platform, metadata
from ai_trader_assets_tests.support.polygon_server import PolygonServer, bars_json
from ai_trader_assets_tests.support.s3 import (
    moto_server,
)

API_KEY = "assets-test-key"
AS_OF = dt.date(2026, 11, 20)
SESSION = AS_OF
LAYER1 = ["AAPL", "MSFT"]
DAY = Dataset.BARS_1DAY


def trading_days_ago(n: int) -> dt.date:
    return calendar.sessions(AS_OF - dt.timedelta(days=3 * n + 10), AS_OF)[-1 - n]


@pytest.fixture
def server() -> Iterator[PolygonServer]:
    with PolygonServer(API_KEY, market=["AAPL", "MSFT", "NVDA", "F", "IBM"]) as running:
        yield running


def configure(
    monkeypatch: pytest.MonkeyPatch, database: MarketDatabase, lake_url: str, server: PolygonServer
) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", lake_url)
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("POLYGON_API_KEY", API_KEY)
    monkeypatch.setenv("POLYGON_BASE_URL", server.url)
    CompaniesRepository(database).upsert(
        [{"symbol": s, "layer": 1} for s in LAYER1]
        + [{"symbol": "NVDA", "layer": 2}, {"symbol": "F", "layer": 0}],
        source="test",
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local lake", "s3 lake"])
def platform(
    request: pytest.FixtureRequest,
    market_db: MarketDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: PolygonServer,
) -> Platform:
    """The assets' storage on both database engines and both lake kinds (local disk, S3 server)."""
    return lake_platform(
        request,
        database=market_db,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        configure=lambda url: configure(monkeypatch, market_db, url, server),
        as_of=AS_OF,
    )


def without_ingest_time(frame: pd.DataFrame | None) -> pd.DataFrame:
    assert frame is not None
    return frame.drop(columns="ingested_at").sort_values(["symbol", "ts"]).reset_index(drop=True)


def test_materializing_a_partition_three_times_leaves_identical_storage(
    platform: Platform, server: PolygonServer
) -> None:
    key = f"{SESSION}|1"
    first = platform.materialize(DAY, key)
    assert first.success
    assert metadata(first, DAY)["provider requests"] == 1  # grouped daily: one request for the layer
    hot, cold = without_ingest_time(platform.hot(DAY)), without_ingest_time(platform.cold(DAY, SESSION, 1))
    assert hot["symbol"].tolist() == LAYER1 and cold["symbol"].tolist() == LAYER1
    server.requests.clear()
    second = platform.materialize(DAY, key)
    assert second.success and server.requests == [] and metadata(second, DAY)["rows written"] == 0
    third = platform.materialize(DAY, key, tags={"ai_trader/refresh": "full"})  # refetch and rewrite
    assert third.success and len(server.requests) == 1
    pd.testing.assert_frame_equal(without_ingest_time(platform.hot(DAY)), hot)
    pd.testing.assert_frame_equal(without_ingest_time(platform.cold(DAY, SESSION, 1)), cold)
    assert platform.count("bars_1day") == 2


def test_rows_land_hot_or_cold_exactly_per_the_windows_and_retention_moves_them(platform: Platform) -> None:
    window = load_config().window(1, DAY)  # layer 1 keeps daily bars 30 days hot, 365 cold
    assert window is not None and (window.hot_days, window.cold_days) == (30, 365)
    recent, older, ancient = trading_days_ago(10), trading_days_ago(100), trading_days_ago(300)
    for session in (recent, older, ancient):
        assert platform.materialize(DAY, f"{session}|1").success
    hot_sessions = set(platform.hot(DAY)["ts"].dt.tz_convert("America/New_York").dt.date)
    assert hot_sessions == {recent}
    assert platform.cold(DAY, recent, 1) is not None and platform.cold(DAY, older, 1) is not None
    assert platform.cold(DAY, ancient, 1) is None  # 300 trading days > 365 calendar days: not kept at all

    later = AS_OF + dt.timedelta(days=30)  # the recent session is now ~44 days old
    engine = RetentionEngine(platform.database, platform.lake, load_config(), later)
    dry = engine.run(dry_run=True)[("bars_1day", "1")]
    assert (dry.deleted, dry.kept) == (0, 0) and len(platform.hot(DAY)) == 2
    applied = RetentionEngine(platform.database, platform.lake, load_config(), later).run()[
        ("bars_1day", "1")
    ]
    assert (applied.verified, applied.deleted, applied.moved) == (2, 2, 0)
    assert platform.hot(DAY).empty and len(platform.cold(DAY, recent, 1)) == 2  # type: ignore[arg-type]


def test_a_range_run_fetches_each_symbol_once_and_writes_every_session(
    platform: Platform, server: PolygonServer
) -> None:
    sessions = calendar.sessions(dt.date(2026, 9, 1), AS_OF)[-30:]
    asset = platform.asset(Dataset.BARS_5MIN)
    # A backfill's range is one run; its launcher sizes runs by rows (pipeline.yaml runs).
    assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    result = platform.materialize(Dataset.BARS_5MIN, f"{sessions[0]}|1", f"{sessions[-1]}|1")
    assert result.success
    assert metadata(result, Dataset.BARS_5MIN)["provider requests"] == len(LAYER1)
    assert len(server.requests_to("/v2/aggs/ticker/")) == len(LAYER1)
    for session in sessions:
        stored = platform.cold(Dataset.BARS_5MIN, session, 1)
        assert stored is not None and set(stored["symbol"]) == set(LAYER1)
    assert len(Ledger(platform.database).covered(Dataset.BARS_5MIN, sessions, LAYER1)) == 30 * len(LAYER1)


def test_a_dataset_the_layer_does_not_ingest_is_empty_and_labelled(
    platform: Platform, server: PolygonServer
) -> None:
    result = platform.materialize(Dataset.NEWS, f"{SESSION}|0")
    assert result.success and server.requests == []
    assert "layer 0 does not ingest news" in metadata(result, Dataset.NEWS)["notes"]


def test_news_and_corporate_actions_land_in_their_sessions(platform: Platform) -> None:
    sessions = calendar.sessions(dt.date(2026, 11, 2), AS_OF)
    assert platform.materialize(Dataset.NEWS, f"{sessions[0]}|1", f"{sessions[-1]}|1").success
    stored = pd.concat([f for s in sessions if (f := platform.cold(Dataset.NEWS, s, 1)) is not None])
    assert stored["id"].is_unique
    for session in sessions:
        frame = platform.cold(Dataset.NEWS, session, 1)
        if frame is None:
            continue
        _, close = calendar.session_open_close(session)
        _, previous_close = calendar.session_open_close(calendar.previous_session(session))
        assert ((frame["published_utc"] > previous_close) & (frame["published_utc"] <= close)).all()
    hot = platform.hot(Dataset.NEWS)
    assert set(hot["id"]) <= set(stored["id"]) and all(set(s) & set(LAYER1) for s in hot["symbols"])


def test_a_malformed_provider_row_is_quarantined_and_nowhere_else(
    platform: Platform, server: PolygonServer
) -> None:
    good = {"o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 100.0, "vw": 10.1, "n": 5, "t": 1763634600000}
    bad = {**good, "T": "MSFT", "h": 1.0}
    server.respond(
        "/v2/aggs/grouped/", {"status": "OK", "resultsCount": 2, "results": [{**good, "T": "AAPL"}, bad]}
    )
    assert platform.materialize(DAY, f"{SESSION}|1").success
    quarantined = Ledger(platform.database).quarantined(DAY)
    assert len(quarantined) == 1
    row = quarantined.iloc[0]
    assert row["partition_key"] == f"{SESSION}|1" and "high below max(open, close)" in row["reason"]
    assert row["record"]["T"] == "MSFT"
    assert platform.hot(DAY)["symbol"].tolist() == ["AAPL"]
    assert platform.cold(DAY, SESSION, 1)["symbol"].tolist() == ["AAPL"]  # type: ignore[index]


def test_a_failed_cold_write_leaves_hot_storage_untouched(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> int:
        raise LakeError("injected: the lake is unreachable")

    monkeypatch.setattr(LakeTables, "upsert", broken)
    result = platform.materialize(DAY, f"{SESSION}|1")
    assert not result.success
    assert platform.count("bars_1day") == 0 and platform.count("ingestion_coverage") == 0
    monkeypatch.undo()


def test_retention_deletes_nothing_it_has_not_verified(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = trading_days_ago(5)
    assert platform.materialize(DAY, f"{recent}|1").success
    platform.tables.delete(DAY, f"session = '{recent}'", Commit("test", "lost"))  # the cold copy is gone...
    monkeypatch.setattr(LakeTables, "upsert", lambda *_, **__: 2)  # ...and a rewrite only pretends
    later = AS_OF + dt.timedelta(days=40)
    counts = RetentionEngine(platform.database, platform.lake, load_config(), later).run()[("bars_1day", "1")]
    assert (counts.unverified, counts.deleted) == (2, 0)
    assert len(platform.hot(DAY)) == 2


def test_a_demoted_symbol_keeps_its_data_through_the_grace_period(platform: Platform) -> None:
    session = trading_days_ago(25)  # ~35 days old: hot for layer 2 (60 days), not for layer 1 (30)
    assert platform.materialize(DAY, f"{session}|2").success
    assert platform.hot(DAY)["symbol"].tolist() == ["NVDA"]
    CompaniesRepository(platform.database).set_layer("NVDA", 1)
    with platform.database.begin() as conn:  # the demotion happened on AS_OF
        conn.execute(
            sa.text("UPDATE qualification_events SET occurred_at = :t WHERE kind = 'demoted'"),
            {"t": dt.datetime.combine(AS_OF, dt.time(12), dt.UTC)},
        )
    grace = load_config().retention.demotion_grace_days
    within = RetentionEngine(
        platform.database, platform.lake, load_config(), AS_OF + dt.timedelta(days=grace - 1)
    )
    assert within.run()[("bars_1day", "2")].kept == 1  # still judged by layer 2's window
    assert platform.hot(DAY)["symbol"].tolist() == ["NVDA"]
    after = RetentionEngine(
        platform.database, platform.lake, load_config(), AS_OF + dt.timedelta(days=grace + 1)
    )
    counts = after.run()[("bars_1day", "1")]
    assert (counts.verified, counts.deleted) == (1, 1) and platform.hot(DAY).empty
    assert platform.cold(DAY, session, 2)["symbol"].tolist() == ["NVDA"]  # type: ignore[index]


def test_downstream_assets_load_each_key_once(platform: Platform) -> None:
    assert platform.materialize(DAY, f"{SESSION}|1").success
    upstream = platform.asset(DAY)
    loaded: list[pd.DataFrame] = []

    @dg.asset(partitions_def=upstream.partitions_def, ins={"bars_1day": dg.AssetIn()})
    def daily_returns(bars_1day: pd.DataFrame) -> None:
        loaded.append(bars_1day)

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [upstream, daily_returns],
            selection=[daily_returns],
            partition_key=f"{SESSION}|1",
            resources=resources().resources,
            instance=instance,
        )
    assert result.success
    assert loaded[0]["symbol"].tolist() == LAYER1 and loaded[0]["close"].notna().all()


def test_retention_purges_cold_data_past_the_cold_window(platform: Platform) -> None:
    assert platform.materialize(DAY, f"{SESSION}|1").success
    much_later = SESSION + dt.timedelta(days=400)  # past layer 1's 365-day cold window
    counts = RetentionEngine(platform.database, platform.lake, load_config(), much_later).run()[
        ("bars_1day", "1")
    ]
    assert counts.purged == 2 and counts.deleted == 2
    assert platform.cold(DAY, SESSION, 1) is None and platform.hot(DAY).empty
    assert Ledger(platform.database).covered(DAY, [SESSION], LAYER1) == set()  # a promotion refetches it


def test_the_maintain_lake_job_clusters_closed_months_and_reports_them(platform: Platform) -> None:
    october = calendar.sessions(dt.date(2026, 10, 1), dt.date(2026, 10, 7))
    for session in october:  # one run per session, as the daily schedule writes them
        assert platform.materialize(Dataset.BARS_5MIN, f"{session}|1").success
    assert platform.tables.stats(Dataset.BARS_5MIN).files == len(october)
    job = dg.Definitions(jobs=[maintain_lake], resources=resources().resources).get_job_def("maintain_lake")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    metadata: dict[str, Any] = {
        k: getattr(v, "value", v)
        for event in result.all_node_events
        if event.event_type_value == "STEP_OUTPUT"
        for k, v in event.step_output_data.metadata.items()
    }
    assert metadata["bars_5min files before/after"] == f"{len(october)} / 1"
    assert "clustered 2026-10" in metadata["bars_5min"] and metadata["news"] == "no table yet"
    assert platform.tables.stats(Dataset.BARS_5MIN).files == 1
    assert len(platform.tables.read(Dataset.BARS_5MIN)) == len(october) * len(LAYER1) * 78


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_checks_pass_on_a_complete_run_and_completeness_names_a_short_symbol_session(
    platform: Platform, server: PolygonServer
) -> None:
    first, last = trading_days_ago(3), trading_days_ago(1)
    complete = checks(platform.materialize(Dataset.BARS_5MIN, f"{first}|1", f"{last}|1"))
    assert complete["integrity"].passed and complete["completeness"].passed
    assert complete["completeness"].metadata["partitions checked"].value == 3

    # The provider leaves out MSFT's last ten 5-minute bars of one session: stored, but short.
    session = AS_OF
    short = session_bars(["MSFT"], session, Dataset.BARS_5MIN).iloc[:-10]
    body = {"status": "OK", "ticker": "MSFT", "resultsCount": len(short), "results": bars_json(short)}
    server.respond("/v2/aggs/ticker/MSFT/", body)
    result = platform.materialize(Dataset.BARS_5MIN, f"{session}|1")
    evaluations = checks(result)
    assert result.success and evaluations["integrity"].passed
    completeness = evaluations["completeness"]
    assert not completeness.passed and completeness.severity == dg.AssetCheckSeverity.WARN
    assert completeness.metadata["incomplete symbol-sessions"].value == 1
    expected = calendar.session_minutes(session) // 5
    assert f"'MSFT {session}': {expected - 10}" in str(completeness.metadata["examples (rows found)"].value)


def small_slices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slice_rows: int) -> None:
    """A copy of the configuration whose runs hold at most ``slice_rows`` rows at a time."""
    config_dir = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    pipeline = yaml.safe_load((config_dir / "pipeline.yaml").read_text())
    pipeline["runs"]["slice_rows"] = slice_rows
    (config_dir / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    monkeypatch.setenv("AI_TRADER_CONFIG_DIR", str(config_dir))


def test_a_run_stores_slice_by_slice_and_its_retry_fetches_only_the_rest(
    platform: Platform, server: PolygonServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sessions = calendar.sessions(dt.date(2026, 9, 1), AS_OF)[-20:]
    small_slices(monkeypatch, tmp_path, slice_rows=20 * 78)  # one symbol's range a slice
    server.fail("/v2/aggs/ticker/MSFT/", 401)  # the second slice fails for good
    first = platform.materialize(Dataset.BARS_5MIN, f"{sessions[0]}|1", f"{sessions[-1]}|1")
    assert not first.success
    # The first slice (AAPL) stayed stored, in cold, hot and coverage; MSFT has nothing.
    stored = platform.tables.frame(Dataset.BARS_5MIN)
    expected_aapl = sum(calendar.session_minutes(s) // 5 for s in sessions)
    assert set(stored["symbol"]) == {"AAPL"} and len(stored) == expected_aapl
    assert set(platform.hot(Dataset.BARS_5MIN)["symbol"]) == {"AAPL"}
    covered = Ledger(platform.database).covered(Dataset.BARS_5MIN, sessions, LAYER1)
    assert covered == {(s, "AAPL") for s in sessions}

    server.requests.clear()
    again = platform.materialize(Dataset.BARS_5MIN, f"{sessions[0]}|1", f"{sessions[-1]}|1")
    assert again.success
    asked = {r.path.split("/")[4] for r in server.requests_to("/v2/aggs/ticker/")}
    assert asked == {"MSFT"}  # nothing already stored was requested again
    stored = platform.tables.frame(Dataset.BARS_5MIN)
    assert len(stored) == 2 * expected_aapl and not stored.duplicated(["symbol", "ts"]).any()
    assert metadata(again, Dataset.BARS_5MIN)["slices"] == 1


KILLED_RUN = """
import datetime as dt, sys
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.platform import Platform
platform = Platform(MarketDatabase(sys.argv[1]), Lake(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))
platform.materialize(Dataset.BARS_5MIN, sys.argv[4], sys.argv[5])
"""


def test_a_run_killed_halfway_then_retried_stores_every_row_once_and_refetches_nothing_stored(
    market_db: MarketDatabase,
    server: PolygonServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    lake_url = str(tmp_path / "lake")
    configure(monkeypatch, market_db, lake_url, server)
    sessions = calendar.sessions(dt.date(2026, 9, 1), AS_OF)[-20:]
    small_slices(monkeypatch, tmp_path, slice_rows=20 * 78)  # one symbol's range a slice
    server.fail("/v2/aggs/ticker/MSFT/", 503, delay_seconds=25)  # the second slice hangs...
    first, last = f"{sessions[0]}|1", f"{sessions[-1]}|1"
    url = market_db.url.render_as_string(hide_password=False)
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, url, lake_url, AS_OF.isoformat(), first, last],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ledger = Ledger(market_db)
    try:
        deadline = time.monotonic() + 120
        while not (server.requests_to("/MSFT/") and ledger.covered(Dataset.BARS_5MIN, sessions, ["AAPL"])):
            assert run.poll() is None and time.monotonic() < deadline, "no second slice"
            time.sleep(0.2)
        run.kill()  # ...and the run dies there, with its first slice stored
    finally:
        run.kill()
        run.wait()
    expected_aapl = sum(calendar.session_minutes(s) // 5 for s in sessions)
    assert ledger.covered(Dataset.BARS_5MIN, sessions, LAYER1) == {(s, "AAPL") for s in sessions}

    server.requests.clear()
    platform = Platform(market_db, Lake(lake_url), AS_OF)
    assert platform.materialize(Dataset.BARS_5MIN, first, last).success
    assert {r.path.split("/")[4] for r in server.requests_to("/v2/aggs/ticker/")} == {"MSFT"}
    cold = platform.tables.frame(Dataset.BARS_5MIN)
    assert len(cold) == 2 * expected_aapl and not cold.duplicated(["symbol", "ts"]).any()
    hot = platform.hot(Dataset.BARS_5MIN)  # layer 1 keeps 14 days of 5-minute bars hot
    assert len(hot) > 0 and not hot.duplicated(["symbol", "ts"]).any()
    assert hot.groupby("symbol").size().to_dict() == dict.fromkeys(LAYER1, len(hot) // 2)
    assert ledger.covered(Dataset.BARS_5MIN, sessions, LAYER1) == {
        (s, symbol) for s in sessions for symbol in LAYER1
    }


def sessions_back(days: int) -> list[dt.date]:
    return calendar.sessions(AS_OF - dt.timedelta(days=days), AS_OF)


def hot_sessions(platform: Platform, symbol: str) -> set[dt.date]:
    hot = platform.hot(DAY)
    return set(hot.loc[hot["symbol"] == symbol, "ts"].dt.tz_convert("America/New_York").dt.date)


def test_a_promotion_copies_its_grown_hot_window_from_cold_without_fetching(
    platform: Platform, server: PolygonServer
) -> None:
    sessions = sessions_back(80)  # layer 1 keeps daily bars 30 days hot; layer 2 keeps 60
    assert platform.materialize(DAY, f"{sessions[0]}|1", f"{sessions[-1]}|1").success
    hot_before = hot_sessions(platform, "AAPL")
    assert hot_before == {s for s in sessions if (AS_OF - s).days < 30}
    CompaniesRepository(platform.database).set_layer("AAPL", 2)  # the scanner promotes AAPL
    request = backfill_requests.create(
        platform.database,
        layer=2,
        symbols=["AAPL"],
        datasets=[DAY.value],
        start_date=sessions[0],
        end_date=sessions[-1],
        reason="test promotion",
    )
    server.requests.clear()
    run = platform.materialize(
        DAY, f"{sessions[0]}|2", f"{sessions[-1]}|2", tags={"ai_trader/backfill_request": str(request.id)}
    )
    assert run.success and server.requests == []  # everything was in cold already
    assert hot_sessions(platform, "AAPL") == {s for s in sessions if (AS_OF - s).days < 60}
    assert metadata(run, DAY)["rows copied cold to hot"] == len(
        {s for s in sessions if 30 <= (AS_OF - s).days < 60}
    )


def test_retention_and_gap_healing_make_hot_follow_a_grown_window(platform: Platform) -> None:
    sessions = sessions_back(80)
    assert platform.materialize(DAY, f"{sessions[0]}|1", f"{sessions[-1]}|1").success
    companies = CompaniesRepository(platform.database)
    companies.set_layer("NVDA", None)  # MSFT alone in layer 2...
    companies.set_layer("MSFT", 2)  # ...promoted, no backfill run yet
    grown = {s for s in sessions if 30 <= (AS_OF - s).days < 60}
    config = load_config()
    due = [s for s in grown if s < AS_OF]  # gap healing waits for a session to close
    layer2 = next(g for g in find_gaps(platform.database, config, AS_OF, set(), 1_000) if g.layer == 2)
    # Every daily session of MSFT's new window was fetched: only the ones hot lacks are gaps.
    assert sorted(layer2.keys_by_dataset[DAY.value]) == sorted(f"{s}|2" for s in due)

    dry = RetentionEngine(platform.database, platform.lake, config, AS_OF).run(dry_run=True)
    assert dry[(DAY.value, "2")].warmed == len(grown) and hot_sessions(platform, "MSFT") != set(sessions)
    applied = RetentionEngine(platform.database, platform.lake, config, AS_OF).run()
    assert applied[(DAY.value, "2")].warmed == len(grown)
    assert hot_sessions(platform, "MSFT") == {s for s in sessions if (AS_OF - s).days < 60}
    again = RetentionEngine(platform.database, platform.lake, config, AS_OF).run()
    assert again[(DAY.value, "2")].warmed == 0  # idempotent
    layer2 = next(g for g in find_gaps(platform.database, config, AS_OF, set(), 1_000) if g.layer == 2)
    assert DAY.value not in layer2.keys_by_dataset  # hot holds the whole window now
