"""Trade ticks end to end: the demo's trades of a layer-3 symbol stored once in hot and cold (both
engines, both lakes), checked against the 1-minute bars, read back by ``MarketData``, ``ai-trader
ticks``, the ``ticks`` view and as 10-second bars built on read."""

import csv
import datetime as dt
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.registry import check_rows
from ai_trader_assets.planning.intraday import freshness
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.read import MarketData
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.retention import RetentionEngine
from ai_trader_assets_tests.support.platform import Platform, lake_platform, metadata
from ai_trader_assets_tests.support.s3 import (
    moto_server,
)

AS_OF = dt.date(2026, 11, 20)
SESSION = AS_OF
TICKS = Dataset.TICKS
runner = CliRunner()


def configure(monkeypatch: pytest.MonkeyPatch, database: MarketDatabase, lake_url: str) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", lake_url)
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("AI_TRADER_PROVIDER", "demo")
    CompaniesRepository(database).upsert(
        [{"symbol": "AAPL", "layer": 3}, {"symbol": "MSFT", "layer": 2}], source="test"
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local lake", "s3 lake"])
def platform(
    request: pytest.FixtureRequest, market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Platform:
    return lake_platform(
        request,
        database=market_db,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        configure=lambda url: configure(monkeypatch, market_db, url),
        as_of=AS_OF,
    )


def demo_trades() -> pd.DataFrame:
    """What the demo serves for AAPL's session, less the records a later one supersedes."""
    fetched = DemoProvider(clock=lambda: dt.datetime(2026, 11, 21, tzinfo=dt.UTC)).trades(["AAPL"], SESSION)
    kept, rejects = check_rows(TICKS, fetched.frame)
    assert len(rejects) == 1  # the trade printed wrong, superseded by its correction
    return kept


def ten_second_bars(trades: pd.DataFrame) -> pd.DataFrame:
    """10-second bars computed here from the demo's trades: regular hours, cancelled trades out."""
    counted = trades[trades["regular_hours"] & (trades["correction"].fillna(0) != 8)]
    counted = counted.sort_values("sip_timestamp").assign(
        bar=lambda f: f["ts"].dt.floor("10s"), notional=lambda f: f["price"] * f["size"]
    )
    grouped = counted.groupby("bar").agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("size", "sum"),
        notional=("notional", "sum"),
        trade_count=("price", "size"),
    )
    return grouped.assign(vwap=grouped["notional"] / grouped["volume"]).drop(columns="notional")


def test_a_layer_3_session_of_demo_trades_is_stored_once_checked_and_read_every_way(
    platform: Platform,
) -> None:
    key = f"{SESSION}|3"
    assert platform.materialize(Dataset.BARS_1MIN, key).success
    first = platform.materialize(TICKS, key)
    assert first.success
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert checks["integrity"].passed and checks["completeness"].passed
    match = checks["ticks_match_bars"]
    assert match.passed, match.metadata
    assert match.metadata["minutes compared"].value == 390
    assert match.metadata["minutes mismatched"].value == 0
    assert match.metadata["max price difference (relative)"].value == 0.0

    expected = demo_trades()
    cold = platform.cold(TICKS, SESSION, 3)
    assert cold is not None and len(cold) == len(expected) == platform.count("ticks")
    stored = cold.sort_values(["sip_timestamp", "exchange", "trade_id"]).reset_index(drop=True)
    want = expected.sort_values(["sip_timestamp", "exchange", "trade_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(stored.drop(columns="ingested_at"), want.drop(columns="ingested_at"))
    assert stored["regular_hours"].sum() == len(stored) - 6  # three trades before the open, three after
    corrected = stored[stored["correction"] == 1]
    assert len(corrected) == 1  # the correction replaced the trade printed wrong

    second = platform.materialize(TICKS, key)
    assert second.success and metadata(second, TICKS)["rows written"] == 0
    assert metadata(second, TICKS)["provider requests"] == 0

    with MarketData.from_env() as data:
        every = data.ticks("AAPL", SESSION, SESSION, regular_hours=False, output="polars")
        assert every.height == len(expected)
        assert every["ts"].dtype == pl.Datetime("ns", "UTC")
        exact = every["ts"].dt.epoch("ns").to_numpy()
        assert np.array_equal(np.sort(exact), np.sort(expected["sip_timestamp"].to_numpy()))
        bars = data.bars("AAPL", "10s", SESSION, SESSION)
    mine = ten_second_bars(expected)
    assert bars["ts"].tolist() == mine.index.tolist()
    for column in ("open", "high", "low", "close", "volume", "trade_count"):
        assert bars[column].tolist() == mine[column].tolist(), column
    assert np.allclose(bars["vwap"].to_numpy(dtype=float), mine["vwap"].to_numpy(), rtol=1e-12)

    result = runner.invoke(app, ["ticks", "AAPL", "--start", str(SESSION), "--all-hours", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(expected) and rows[0]["ts"].count(".") == 1  # fractional seconds shown
    query = "select count(*) as n, max(epoch_ns(ts) - sip_timestamp) as off from ticks"
    result = runner.invoke(app, ["sql", query, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": len(expected), "off": 0}]  # ts to the nanosecond


@pytest.fixture
def local_platform(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    configure(monkeypatch, market_db, str(tmp_path / "lake"))
    return Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF)


def test_a_trading_session_is_stored_up_to_now_then_completed_and_retention_purges_it(
    local_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, key = local_platform, f"{SESSION}|3"
    monkeypatch.setenv("AI_TRADER_AS_OF", f"{SESSION}T11:00")  # New York time, the session trading
    assert platform.materialize(TICKS, key).success
    morning = platform.hot(TICKS)
    eleven = pd.Timestamp(f"{SESSION} 11:00", tz="America/New_York")
    assert len(morning) and (morning["ts"] < eleven).all()
    monkeypatch.setenv("AI_TRADER_AS_OF", f"{SESSION}T11:05")  # the intraday refresh: only what is new
    refresh = platform.materialize(TICKS, key)
    assert refresh.success and 0 < metadata(refresh, TICKS)["rows written"] < len(morning)
    (spec,) = [s for s in load_config().pipeline.intraday if s.layer == 3]
    at = pd.Timestamp(f"{SESSION} 11:05", tz="America/New_York").to_pydatetime()
    fresh = freshness(platform.database, platform.lake, load_config(), spec, TICKS, now=at)
    assert fresh.passed, fresh.metadata  # the newest trade is minutes old
    later = at + dt.timedelta(minutes=30)
    assert not freshness(platform.database, platform.lake, load_config(), spec, TICKS, now=later).passed
    monkeypatch.setenv("AI_TRADER_AS_OF", f"{SESSION + dt.timedelta(days=1)}")  # after the close
    assert platform.materialize(TICKS, key).success
    expected = demo_trades()
    cold = platform.cold(TICKS, SESSION, 3)
    assert cold is not None and len(cold) == len(expected)  # each trade once, across three runs
    hot = platform.count("ticks")  # what the runs stored while the session was "today" (hot: 1 day)
    assert len(morning) < hot < len(expected)

    counts = RetentionEngine(
        platform.database, platform.lake, load_config(), SESSION + dt.timedelta(days=3)
    ).run()
    assert counts[("ticks", "3")].deleted == hot  # hot keeps ticks one day
    assert platform.count("ticks") == 0 and platform.cold(TICKS, SESSION, 3) is not None
    counts = RetentionEngine(
        platform.database, platform.lake, load_config(), SESSION + dt.timedelta(days=8)
    ).run()
    assert counts[("ticks", "3")].purged == len(expected)  # cold keeps them seven
    assert platform.cold(TICKS, SESSION, 3) is None


def test_a_symbol_session_is_stored_in_pieces_each_trade_once(
    local_platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    pipeline = yaml.safe_load((config_dir / "pipeline.yaml").read_text())
    pipeline["runs"]["piece_rows"] = 1_000  # ~6 pieces of AAPL's session
    (config_dir / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    monkeypatch.setenv("AI_TRADER_CONFIG_DIR", str(config_dir))
    platform, key = local_platform, f"{SESSION}|3"
    run = platform.materialize(TICKS, key)
    assert run.success
    expected = demo_trades()
    history = platform.tables.history(TICKS)
    assert len(history) - 1 == -(-len(expected) // 1_000)  # a commit per piece, after the table's creation
    cold = platform.cold(TICKS, SESSION, 3)
    assert cold is not None and len(cold) == len(expected) == platform.count("ticks")
    assert (
        cold["sip_timestamp"].is_unique
        or cold.duplicated(["sip_timestamp", "exchange", "trade_id"]).sum() == 0
    )
    assert Ledger(platform.database).covered(TICKS, [SESSION], ["AAPL"]) == {(SESSION, "AAPL")}
    again = platform.materialize(TICKS, key, tags={"ai_trader/refresh": "full"})  # a refetch, in pieces
    assert again.success and len(platform.cold(TICKS, SESSION, 3)) == len(expected)  # type: ignore[arg-type]
