"""Layer 0 from the provider's reference list: listings, delistings after N absences, and the guard
that refuses a short list — against the local Polygon server, on both engines, and in Dagster."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.defs.universe.assets import universe
from ai_trader_assets.planning.universe import sync_universe
from ai_trader_assets.providers.base import ProviderError
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.polygon import PolygonProvider, PolygonTransport
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.provider_stats import read_provider_stats
from ai_trader_assets_tests.support.alpaca_server import AlpacaServer
from ai_trader_assets_tests.support.polygon_server import PolygonServer

KEY = "pk_SENTINEL_universe"
SPEC = load_config().pipeline.universe
MARKET = [f"S{i:02d}" for i in range(40)]  # one symbol missing is 2.5 %: below the 5 % guard


@pytest.fixture
def server() -> Iterator[PolygonServer]:
    with PolygonServer(KEY, market=list(MARKET), page_size=15) as running:  # three pages
        yield running


def provider(server: PolygonServer, tmp_path: Path) -> PolygonProvider:
    spec = load_config().providers.providers["polygon"]
    limiter = RequestLimiter("polygon", spec.rate_limit, tmp_path / "limits")
    return PolygonProvider(
        PolygonTransport(Secret(KEY), server.url, RequestGovernor("polygon", spec, limiter)), spec
    )


def events(database: MarketDatabase) -> list[tuple[str, Any, Any]]:
    with database.begin() as conn:
        rows = conn.execute(
            sa.text("SELECT symbol, from_layer, to_layer FROM qualification_events ORDER BY id")
        )
        return [(str(r[0]), r[1], r[2]) for r in rows]


def test_a_sync_adds_listings_as_layer_0_and_deactivates_a_symbol_after_its_absences(
    market_db: MarketDatabase, server: PolygonServer, tmp_path: Path
) -> None:
    companies = CompaniesRepository(market_db)
    companies.upsert(
        [{"symbol": s, "layer": 0} for s in MARKET[:-1]] + [{"symbol": "S05", "layer": 2}], source="t"
    )
    server.extra_tickers = [  # filtered out by type and exchange
        {"ticker": "SPYX", "name": "An ETF", "primary_exchange": "ARCX", "type": "ETF", "active": True},
        {
            "ticker": "OTCX",
            "name": "Over the counter",
            "primary_exchange": "OTC",
            "type": "CS",
            "active": True,
        },
        {"ticker": "bad ticker", "name": "Invalid", "primary_exchange": "XNYS", "type": "CS", "active": True},
    ]
    first = sync_universe(provider(server, tmp_path), companies, SPEC)
    assert first.refused is None and first.new == ["S39"] and first.rejects == 1 and first.filtered_out == 2
    assert companies.layer_of("S39") == 0 and companies.get("S39").name == "S39 Holdings Inc."
    assert companies.layer_of("S05") == 2  # a sync never touches qualifications of listed symbols
    assert ("S39", None, 0) in events(market_db)
    assert len(server.requests_to("/v3/reference/tickers")) == 3  # every page

    server.market.remove("S07")  # delisted: missing from now on
    for sync in range(1, SPEC.delist_after_days + 1):
        plan = sync_universe(provider(server, tmp_path), companies, SPEC)
        assert plan.refused is None and plan.missing["S07"][0] == sync
        expected_layer = None if sync == SPEC.delist_after_days else 0
        assert companies.layer_of("S07") == expected_layer
    assert plan.deactivate == ["S07"] and not companies.get("S07").is_active
    assert events(market_db)[-1] == ("S07", 0, None)
    assert companies.absences() == {}

    server.market.append("S07")  # listed again: active again, as layer 0
    assert sync_universe(provider(server, tmp_path), companies, SPEC).refused is None
    assert companies.layer_of("S07") == 0


def test_a_list_missing_30_percent_changes_nothing_and_says_how_many(
    market_db: MarketDatabase, server: PolygonServer, tmp_path: Path
) -> None:
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": s, "layer": 0} for s in MARKET], source="t")
    server.market = MARKET[12:]  # 12 of 40 active symbols missing: 30 %
    before = (companies.active(), events(market_db))
    plan = sync_universe(provider(server, tmp_path), companies, SPEC)
    assert plan.refused is not None and "lacks 12 of 40 active symbols (30.0%" in plan.refused
    assert (companies.active(), events(market_db)) == before and companies.absences() == {}
    server.market = []
    assert "empty" in (sync_universe(provider(server, tmp_path), companies, SPEC).refused or "")
    server.market = list(MARKET)
    page = server.tickers()[:15]
    server.respond("/v3/reference/tickers", {"status": "OK", "resultsCount": 15, "results": page[:10]})
    truncated = sync_universe(provider(server, tmp_path), companies, SPEC)
    assert "truncated" in (truncated.refused or "") and companies.active() == before[0]


def test_the_universe_asset_fails_its_guard_check_with_the_numbers(
    market_db: MarketDatabase, server: PolygonServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("POLYGON_API_KEY", KEY)
    monkeypatch.setenv("POLYGON_BASE_URL", server.url)
    CompaniesRepository(market_db).upsert([{"symbol": s, "layer": 0} for s in MARKET], source="t")

    def materialize() -> dg.AssetCheckEvaluation:
        with dg.instance_for_test() as instance:
            result = dg.materialize([universe], resources=resources().resources, instance=instance)
        assert result.success  # a refused sync is a failed check, not a failed run
        (check,) = result.get_asset_check_evaluations()
        return check

    server.market.append("NEW1")
    applied = materialize()
    assert applied.passed and applied.metadata["new listings (layer 0)"].value == 1
    server.market = MARKET[12:]
    refused = materialize()
    assert not refused.passed
    assert refused.metadata["active but missing from the list"].value == 13  # S00-S11 and NEW1
    assert "nothing changed" in str(refused.metadata["refused"].value)
    assert len(CompaniesRepository(market_db).active()) == 41


def test_ai_trader_universe_sync_on_the_demo_provider(
    market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    runner = CliRunner()
    dry = runner.invoke(app, ["universe", "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing changed" in dry.stdout and CompaniesRepository(market_db).active() == []
    applied = runner.invoke(app, ["universe", "sync"])
    assert applied.exit_code == 0, applied.output
    expected = (DEFAULT_CONFIG_DIR / "demo_universe.csv").read_text().count("\n") - 1
    assert len(CompaniesRepository(market_db).active()) == expected
    assert f"applied: {expected} inserted" in applied.stdout
    again = runner.invoke(app, ["universe", "sync"])
    assert f"applied: 0 inserted, {expected} updated, 0 layer change(s)" in again.stdout


def test_a_rename_is_recorded_and_the_qualification_carries_over(
    market_db: MarketDatabase, server: PolygonServer, tmp_path: Path
) -> None:
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": s, "layer": 0} for s in MARKET] + [{"symbol": "FB", "layer": 2}], source="t")
    server.market = [*MARKET, "META"]  # FB is listed as META from today
    server.ticker_history["META"] = [("2012-05-18", "FB"), ("2022-06-09", "META")]
    plan = sync_universe(provider(server, tmp_path), companies, SPEC)
    assert plan.refused is None and plan.renames == [("FB", "META", dt.date(2022, 6, 9))]
    assert companies.layer_of("META") == 2 and companies.layer_of("FB") is None
    assert companies.absences() == {}  # FB is not waiting for its absences: it was renamed
    with market_db.begin() as conn:
        recorded = conn.execute(
            sa.text("SELECT old_symbol, new_symbol, effective_date, source FROM symbol_changes")
        )
        assert [(r[0], r[1], str(r[2]), r[3]) for r in recorded] == [
            ("FB", "META", "2022-06-09", "universe-sync")
        ]
    assert ("META", 0, 2) in events(market_db) and ("FB", 2, None) in events(market_db)
    again = sync_universe(provider(server, tmp_path), companies, SPEC)
    assert again.renames == [] and companies.layer_of("META") == 2  # recorded once


def test_a_rename_is_carried_over_even_when_one_absence_deactivates(
    market_db: MarketDatabase, server: PolygonServer, tmp_path: Path
) -> None:
    """With delist_after_days 1 the old symbol is due for deactivation in the very sync that sees the
    rename: the rename is found first, so its qualification moves instead of ending."""
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": s, "layer": 0} for s in MARKET] + [{"symbol": "FB", "layer": 2}], source="t")
    server.market = [*MARKET, "META"]
    server.ticker_history["META"] = [("2012-05-18", "FB"), ("2022-06-09", "META")]
    plan = sync_universe(
        provider(server, tmp_path), companies, SPEC.model_copy(update={"delist_after_days": 1})
    )
    assert plan.renames == [("FB", "META", dt.date(2022, 6, 9))]
    assert companies.layer_of("META") == 2 and companies.layer_of("FB") is None


def test_a_failed_rename_lookup_changes_nothing(
    market_db: MarketDatabase, server: PolygonServer, tmp_path: Path
) -> None:
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": s, "layer": 0} for s in MARKET] + [{"symbol": "FB", "layer": 2}], source="t")
    server.market = [*MARKET, "META"]
    server.fail("/events", 404, times=1)
    with pytest.raises(ProviderError):
        sync_universe(provider(server, tmp_path), companies, SPEC)
    assert "META" not in companies.active() and companies.layer_of("FB") == 2  # the next sync retries
    assert companies.absences() == {}


def test_a_rename_never_lowers_what_the_new_symbol_already_qualified_for(market_db: MarketDatabase) -> None:
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": "OLD", "layer": 1}, {"symbol": "NEW", "layer": 3}], source="scanner")
    assert companies.record_rename("OLD", "NEW", dt.date(2026, 11, 2), source="test")
    assert companies.layer_of("NEW") == 3 and companies.layer_of("OLD") is None
    assert not companies.record_rename("OLD", "NEW", dt.date(2026, 11, 2), source="test")  # once
    # A rename of a symbol the table never knew records nothing (reads of NEW would look for it).
    assert not companies.record_rename("NEVER", "NEW", dt.date(2026, 11, 3), source="test")
    with market_db.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM symbol_changes")).scalar_one() == 1


def test_ai_trader_universe_sync_on_alpaca_and_its_renames(
    market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alpaca's trading API lists the universe (/v2/assets); a name change recorded as a corporate
    action carries a symbol's qualification over, like Polygon's ticker events."""
    with AlpacaServer("ak_SENTINEL_universe", "as_SENTINEL_universe") as alpaca:
        for name, value in {
            "AI_TRADER_DATABASE_URL": market_db.url.render_as_string(hide_password=False),
            "AI_TRADER_PROVIDER": "alpaca",
            "ALPACA_API_KEY": "ak_SENTINEL_universe",
            "ALPACA_SECRET_KEY": "as_SENTINEL_universe",
            "ALPACA_DATA_URL": alpaca.url,
            "ALPACA_TRADING_URL": alpaca.url,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("POLYGON_API_KEY", raising=False)
        runner = CliRunner()
        applied = runner.invoke(app, ["universe", "sync"])
        assert applied.exit_code == 0, applied.output
        expected = (DEFAULT_CONFIG_DIR / "demo_universe.csv").read_text().count("\n") - 1
        active = CompaniesRepository(market_db).active()
        # The OTC listing is filtered by exchange, the untradable one left out by the provider.
        assert len(active) == expected and "GBTC" not in active and "ZVZZT" not in active
        assert {r.path for r in alpaca.requests} == {"/v2/assets"}
        # The command's requests are counted for ai-trader metrics, like a run's.
        counted = {(s.provider, s.outcome): s.requests for s in read_provider_stats(market_db)}
        assert counted == {("alpaca", "ok"): len(alpaca.requests)}

        companies = CompaniesRepository(market_db)
        companies.upsert([{"symbol": "TWTR", "layer": 2}], source="test")
        today = dt.datetime.now(calendar.NEW_YORK).date()
        alpaca.name_changes = [
            {
                "id": "5f0c1d2e-0000-4000-8000-000000000001",
                "old_symbol": "TWTR",
                "new_symbol": "XYZ",
                "old_cusip": "852234103",
                "new_cusip": "852234103",
                "process_date": (today - dt.timedelta(days=2)).isoformat(),
            }
        ]
        alpaca.assets.append({**alpaca.assets[0], "symbol": "XYZ", "name": "Block, Inc.", "id": "xyz"})
        renamed = runner.invoke(app, ["universe", "sync"])
        assert renamed.exit_code == 0, renamed.output
        assert companies.layers_of(["XYZ", "TWTR"]) == {"XYZ": 2, "TWTR": None}
        (lookup,) = alpaca.requests_to("/v1/corporate-actions")
        assert lookup.query["types"] == ["name_change"] and lookup.query["symbols"] == ["XYZ"]
