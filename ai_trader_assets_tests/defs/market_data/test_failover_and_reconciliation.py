"""The issue's acceptance, end to end in-process on both engines: with Polygon down, daily bars and
news come from Alpaca and the run says so; a rejected Polygon key fails the run naming it and nothing
fails over; reconciliation flags a session where Alpaca's close differs by 5 %, and passes otherwise."""

import dataclasses
import datetime as dt
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.alpaca_server import AlpacaServer
from ai_trader_assets_tests.support.platform import Platform, metadata
from ai_trader_assets_tests.support.polygon_server import PolygonServer

AS_OF = dt.date(2026, 11, 20)
SESSIONS = calendar.sessions(dt.date(2026, 11, 10), AS_OF)[-3:]
MEMBERS = ["AAPL", "MSFT"]  # layer 1
POLYGON_KEY = "pk_SENTINEL_acceptance"
ALPACA_KEY, ALPACA_SECRET = "ak_SENTINEL_acceptance", "as_SENTINEL_acceptance"
DAY = Dataset.BARS_1DAY


@dataclasses.dataclass
class Stack:
    platform: Platform
    polygon: PolygonServer
    alpaca: AlpacaServer


def fast_retries(folder: Path) -> None:
    """The shipped configuration with retries that barely wait (the policy is tested per provider)."""
    path = folder / "providers.yaml"
    data = yaml.safe_load(path.read_text())
    for spec in data["providers"].values():
        spec["retries"].update(initial_backoff_seconds=0.01, max_backoff_seconds=0.02, jitter_seconds=0)
    path.write_text(yaml.safe_dump(data))


@pytest.fixture
def stack(market_db: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    fast_retries(config)
    with (
        PolygonServer(POLYGON_KEY, market=[*MEMBERS, "NVDA"]) as polygon,
        AlpacaServer(ALPACA_KEY, ALPACA_SECRET) as alpaca,
    ):
        for name, value in {
            "AI_TRADER_DATABASE_URL": market_db.url.render_as_string(hide_password=False),
            "AI_TRADER_LAKE_URL": str(tmp_path / "lake"),
            "AI_TRADER_HOME": str(tmp_path / "home"),
            "AI_TRADER_AS_OF": AS_OF.isoformat(),
            "AI_TRADER_CONFIG_DIR": str(config),
            "POLYGON_API_KEY": POLYGON_KEY,
            "POLYGON_BASE_URL": polygon.url,
            "ALPACA_API_KEY": ALPACA_KEY,
            "ALPACA_SECRET_KEY": ALPACA_SECRET,
            "ALPACA_DATA_URL": alpaca.url,
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("AI_TRADER_PROVIDER", "BENZINGA_API_KEY", "MASSIVE_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        CompaniesRepository(market_db).upsert([{"symbol": s, "layer": 1} for s in MEMBERS], source="test")
        yield Stack(Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF), polygon, alpaca)


def run_range(stack: Stack, dataset: Dataset) -> object:
    return stack.platform.materialize(dataset, f"{SESSIONS[0]}|1", f"{SESSIONS[-1]}|1")


def test_with_polygon_answering_503_daily_bars_and_news_come_from_alpaca_and_the_run_says_so(
    stack: Stack,
) -> None:
    stack.polygon.fail("/", 503, times=10_000)
    for dataset in (DAY, Dataset.NEWS):
        result = run_range(stack, dataset)
        assert result.success  # type: ignore[attr-defined]
        meta = metadata(result, dataset)  # type: ignore[arg-type]
        assert meta["served by"] == "alpaca: 2 symbols (AAPL, MSFT)"
        assert f"polygon could not serve {dataset.value}" in meta["failover"]
        assert "HTTP 503" in meta["failover"] and "trying alpaca" in meta["failover"]
        stored = stack.platform.tables.frame(dataset, sessions=SESSIONS, layers=[1])
        assert not stored.empty and set(stored["source"]) == {"alpaca"}
        assert set(stack.platform.hot(dataset)["source"]) == {"alpaca"}
        if dataset == DAY:  # alpaca cannot confirm its own rows, and no other provider is configured
            (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciliation"]  # type: ignore[attr-defined]
            assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
            assert "other than the rows' source" in check.metadata["not compared"].value
    assert len(stack.platform.tables.frame(DAY, sessions=SESSIONS, layers=[1])) == len(SESSIONS) * 2
    assert stack.polygon.requests and stack.alpaca.requests_to("/v1beta1/news")


def test_a_rejected_polygon_key_fails_the_run_naming_it_and_nothing_fails_over(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POLYGON_API_KEY", "pk_SENTINEL_revoked")
    result = stack.platform.materialize(DAY, f"{SESSIONS[-1]}|1")
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = str(failure.step_failure_data.error)
    assert "POLYGON_API_KEY" in message and "pk_SENTINEL_revoked" not in message
    assert stack.alpaca.requests == []  # a configuration error is reported, not hidden by failover
    assert len(stack.polygon.requests) == 1
    assert "pk_SENTINEL_revoked" not in caplog.text and ALPACA_SECRET not in caplog.text
    assert stack.platform.count("bars_1day") == 0


def reconciliation_rows(database: MarketDatabase) -> pd.DataFrame:
    with database.begin() as conn:
        return pd.read_sql(sa.text("SELECT * FROM reconciliation ORDER BY session, symbol, field"), conn)


def test_reconciliation_flags_a_close_shifted_five_percent_and_passes_otherwise(stack: Stack) -> None:
    shifted = SESSIONS[1]
    stack.alpaca.shift_close("MSFT", shifted, 1.05)
    for session in SESSIONS:
        result = stack.platform.materialize(DAY, f"{session}|1")
        assert result.success  # the check does not block the materialization
        (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciliation"]
        values: dict[str, Any] = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
        assert values["symbol-sessions compared"] == 2 and values["compared with"] == "alpaca"
        if session == shifted:
            assert not check.passed and values["divergences"] == 1
            assert values["worst"].startswith(f"MSFT {shifted} close: polygon")
        else:
            assert check.passed and values["divergences"] == 0
    rows = reconciliation_rows(stack.platform.database)
    assert rows[["symbol", "field", "provider_a", "provider_b"]].values.tolist() == [
        ["MSFT", "close", "polygon", "alpaca"]
    ]
    assert rows.iloc[0]["value_b"] == pytest.approx(rows.iloc[0]["value_a"] * 1.05)


def test_ai_trader_reconcile_lists_the_divergence_and_records_it(stack: Stack) -> None:
    result = run_range(stack, DAY)
    assert result.success  # type: ignore[attr-defined]
    runner = CliRunner()
    args = ["reconcile", "--symbols", "AAPL,MSFT", "--start", str(SESSIONS[0]), "--end", str(SESSIONS[-1])]
    clean = runner.invoke(app, args)
    assert clean.exit_code == 0, clean.output
    assert "compared 6 symbol-session(s) with alpaca: 0 divergence(s)" in clean.stdout
    assert reconciliation_rows(stack.platform.database).empty

    stack.alpaca.shift_close("AAPL", SESSIONS[2], 0.95)
    flagged = runner.invoke(app, args)
    assert flagged.exit_code == 1
    assert "1 divergence(s)" in flagged.stdout and "AAPL" in flagged.stdout and "5.26%" in flagged.stdout
    rows = reconciliation_rows(stack.platform.database)
    assert rows[["session", "symbol", "field"]].astype(str).values.tolist() == [
        [str(SESSIONS[2]), "AAPL", "close"]
    ]
    assert ALPACA_SECRET not in flagged.output and POLYGON_KEY not in flagged.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--symbols", "AAPL", "--start", "2026-13-01", "--end", "2026-11-20"],
            "--start '2026-13-01' is not a date",
        ),
        (["--symbols", "AAPL", "--start", "2026-11-20", "--end", "2026-11-02"], "is after end"),
        (["--symbols", " , ", "--start", "2026-11-02", "--end", "2026-11-20"], "no symbols given"),
        (["--symbols", "AAPL", "--start", "2026-11-26", "--end", "2026-11-26"], "no NYSE session"),
    ],
)
def test_ai_trader_reconcile_names_bad_input_and_records_nothing(
    stack: Stack, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["reconcile", *args])
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert reconciliation_rows(stack.platform.database).empty and stack.alpaca.requests == []
