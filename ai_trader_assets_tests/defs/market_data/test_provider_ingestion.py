"""One ingestion suite, run against every provider that serves each dataset, on both engines.

Each provider's local server speaks its API and generates its bodies from the demo provider, so
whatever provider served a run, the stored rows must be the demo provider's values (raw prices; ids,
timestamps and units in our conventions) with ``source`` naming the provider. A second run stores
nothing new and asks the provider nothing; a malformed record is quarantined and stored nowhere.

Trade ticks (layer 3 only) come from Polygon and Alpaca, whose servers generate trades of their own
(not the demo's): a run stores every trade a server holds for the members' session exactly once, in
hot and cold, over several pages. A page that never arrives whole (Polygon's cut short, Alpaca's 5xx
storm) fails the run and leaves that symbol-session stored nowhere and not covered.
"""

import dataclasses
import datetime as dt
import http.client
import json
import math
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, load_config
from ai_trader_assets.datasets import SPECS, Dataset
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets_tests.support.alpaca_server import AlpacaServer
from ai_trader_assets_tests.support.alpaca_server import generated_trades as alpaca_trades
from ai_trader_assets_tests.support.benzinga_server import BenzingaServer
from ai_trader_assets_tests.support.fake_api import FakeApi, RecordedRequest
from ai_trader_assets_tests.support.platform import Platform, metadata
from ai_trader_assets_tests.support.polygon_server import PolygonServer
from ai_trader_assets_tests.support.yahoo_server import YahooServer

AS_OF = dt.date(2026, 11, 20)
LAYER = 2  # layer 2 ingests every dataset
MEMBERS = ["AAPL", "MSFT", "VZ"]  # the demo splits VZ 2:1 on 2026-10-12 and pays MSFT a dividend on 11-06
SESSIONS = calendar.sessions(dt.date(2026, 11, 16), AS_OF)[-3:]
KEYS = {
    "POLYGON_API_KEY": "pk_SENTINEL_suite",
    "ALPACA_API_KEY": "ak_SENTINEL_suite",
    "ALPACA_SECRET_KEY": "as_SENTINEL_suite",
    "BENZINGA_API_KEY": "bz_SENTINEL_suite",
}
BARS = (Dataset.BARS_1DAY, Dataset.BARS_1HOUR, Dataset.BARS_5MIN, Dataset.BARS_1MIN)
SERVED: dict[str, tuple[Dataset, ...]] = {
    "polygon": (*BARS, Dataset.NEWS, Dataset.CORPORATE_ACTIONS),
    "alpaca": (*BARS, Dataset.NEWS, Dataset.CORPORATE_ACTIONS),
    "yahoo": (*BARS, Dataset.CORPORATE_ACTIONS),
    "benzinga": (Dataset.NEWS,),
}
CASES = [pytest.param(p, d, id=f"{p}-{d.value}") for p, datasets in SERVED.items() for d in datasets]
TICKS = Dataset.TICKS
TICKS_LAYER = 3  # the only layer that ingests ticks
TRADES_PATH = {"polygon": "/v3/trades/", "alpaca": "/v2/stocks/trades"}
TRADE_PAGE_SIZE = 50  # providers.yaml's trades page size in this suite
TRADES_PER_SESSION = 120  # each member's session: three pages
TRADE_PAGES = math.ceil(TRADES_PER_SESSION / TRADE_PAGE_SIZE)


def _start(name: str) -> FakeApi:
    if name == "polygon":
        return PolygonServer(KEYS["POLYGON_API_KEY"], market=[*MEMBERS, "NVDA"])
    if name == "alpaca":
        return AlpacaServer(KEYS["ALPACA_API_KEY"], KEYS["ALPACA_SECRET_KEY"])
    if name == "yahoo":
        return YahooServer(today=AS_OF)
    return BenzingaServer(KEYS["BENZINGA_API_KEY"])


@dataclasses.dataclass
class Rig:
    provider: str
    server: FakeApi
    platform: Platform
    layer: int = LAYER

    def place(self, layer: int) -> None:
        """Make MEMBERS this layer's companies: the layer runs and reads use from now on."""
        records = [{"symbol": s, "layer": layer} for s in MEMBERS]
        CompaniesRepository(self.platform.database).upsert(records, source="test")
        self.layer = layer

    def run(self, dataset: Dataset, first: dt.date, last: dt.date, **tags: str) -> Any:
        return self.platform.materialize(
            dataset,
            f"{first}|{self.layer}",
            f"{last}|{self.layer}",
            tags=tags or None,
            provider=self.provider,
        )


@pytest.fixture(scope="module")
def suite_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped configuration without the providers' rate limits (tested in test_ratelimit) and
    retry waits (the retry policy is tested with each provider): the suite measures what is stored,
    and Yahoo's 2 requests a second or a 5xx storm's backoff would make it wait. Trades come in pages
    of TRADE_PAGE_SIZE, so a few trades take several pages."""
    folder = tmp_path_factory.mktemp("config")
    shutil.copytree(DEFAULT_CONFIG_DIR, folder, dirs_exist_ok=True)
    path = folder / "providers.yaml"
    data = yaml.safe_load(path.read_text())
    for spec in data["providers"].values():
        spec["rate_limit"].update(requests_per_second=1000, requests_per_minute=60_000, burst=1000)
        spec["retries"].update(initial_backoff_seconds=0.01, max_backoff_seconds=0.01, jitter_seconds=0)
        if "trades" in spec.get("page_sizes", {}):
            spec["page_sizes"]["trades"] = TRADE_PAGE_SIZE
    path.write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture
def rig(
    request: pytest.FixtureRequest,
    market_db: MarketDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    suite_config: Path,
) -> Iterator[Rig]:
    provider: str = request.param
    with _start(provider) as server:
        variables = {
            "AI_TRADER_DATABASE_URL": market_db.url.render_as_string(hide_password=False),
            "AI_TRADER_LAKE_URL": str(tmp_path / "lake"),
            "AI_TRADER_AS_OF": AS_OF.isoformat(),
            "AI_TRADER_HOME": str(tmp_path / "home"),
            "AI_TRADER_CONFIG_DIR": str(suite_config),
            "POLYGON_BASE_URL": server.url,
            "ALPACA_DATA_URL": server.url,
            "YAHOO_BASE_URL": server.url,
            "BENZINGA_BASE_URL": server.url,
        }
        # Only this provider's keys: no failover, no reconciliation against another server.
        owned = {"polygon": ["POLYGON_API_KEY"], "alpaca": ["ALPACA_API_KEY", "ALPACA_SECRET_KEY"]}
        for name in owned.get(provider, []) + (["BENZINGA_API_KEY"] if provider == "benzinga" else []):
            variables[name] = KEYS[name]
        # The run's primary is the rig's provider (Platform.materialize(provider=...)); the environment's
        # must still name one, and benzinga serves no bars so it cannot be AI_TRADER_PROVIDER.
        variables["AI_TRADER_PROVIDER"] = "demo" if provider == "benzinga" else provider
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        for name in {*KEYS, "MASSIVE_API_KEY"} - set(variables):
            monkeypatch.delenv(name, raising=False)
        rig = Rig(provider, server, Platform(market_db, Lake(str(tmp_path / "lake")), AS_OF))
        rig.place(LAYER)
        yield rig


def _range(dataset: Dataset) -> tuple[dt.date, dt.date]:
    if dataset == Dataset.CORPORATE_ACTIONS:  # a split and a dividend
        return dt.date(2026, 10, 8), AS_OF
    if dataset == Dataset.BARS_1DAY:  # across VZ's split: Yahoo's adjusted prices must come back raw
        return dt.date(2026, 10, 8), dt.date(2026, 10, 13)
    return SESSIONS[0], SESSIONS[-1]


def _stored(rig: Rig, dataset: Dataset, first: dt.date, last: dt.date) -> pd.DataFrame:
    sessions = calendar.sessions(first, last)
    return rig.platform.tables.frame(dataset, sessions=sessions, layers=[rig.layer])


def _expected_bars(dataset: Dataset) -> pd.DataFrame:
    frames = [session_bars(MEMBERS, s, dataset) for s in calendar.sessions(*_range(dataset))]
    return pd.concat(frames, ignore_index=True).sort_values(["symbol", "ts"]).reset_index(drop=True)


def _assert_matches_the_demo(rig: Rig, dataset: Dataset, stored: pd.DataFrame) -> None:
    assert not stored.empty and set(stored["source"]) == {rig.provider}
    if dataset in BARS:
        expected = _expected_bars(dataset)
        got = stored.sort_values(["symbol", "ts"]).reset_index(drop=True)
        assert got["symbol"].tolist() == expected["symbol"].tolist()
        assert (got["ts"] == expected["ts"]).all()
        for column in ("open", "high", "low", "close", "volume"):
            pd.testing.assert_series_equal(got[column], expected[column], rtol=1e-6, check_dtype=False)
        return
    first, last = _range(dataset)
    if dataset == Dataset.NEWS:
        _, previous_close = calendar.session_open_close(calendar.previous_session(first))
        _, close = calendar.session_open_close(last)
        demo = DemoProvider().news(MEMBERS, previous_close, close + dt.timedelta(seconds=1)).frame
        key = ["published_utc", "title"]
        assert sorted(map(tuple, stored[key].to_numpy().tolist())) == sorted(
            map(tuple, demo[key].to_numpy().tolist())
        )
        assert stored["id"].is_unique
        return
    demo = DemoProvider().corporate_actions(MEMBERS, calendar.previous_session(first), last).frame
    demo = demo[demo["ex_date"] >= first]
    key = ["symbol", "action_type", "ex_date"]
    assert sorted(map(tuple, stored[key].to_numpy().tolist())) == sorted(
        map(tuple, demo[key].to_numpy().tolist())
    )
    assert set(stored["action_type"]) == {"split", "dividend"}
    merged = stored.merge(demo, on=key, suffixes=("", "_demo"))
    for column in ("split_from", "split_to", "cash_amount"):
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_demo"], rtol=1e-6, check_names=False, check_dtype=False
        )


@pytest.mark.parametrize(("rig", "dataset"), CASES, indirect=["rig"])
def test_every_provider_ingests_what_it_serves_once_and_idempotently(rig: Rig, dataset: Dataset) -> None:
    first, last = _range(dataset)
    result = rig.run(dataset, first, last)
    assert result.success
    meta = metadata(result, dataset)
    assert meta["served by"] == f"{rig.provider}: 3 symbols (AAPL, MSFT, VZ)" and meta["failover"] == "-"
    stored = _stored(rig, dataset, first, last)
    _assert_matches_the_demo(rig, dataset, stored)
    assert meta["rows written"] == len(stored)
    _assert_a_second_run_stores_nothing(rig, dataset, first, last, stored)


def _assert_a_second_run_stores_nothing(
    rig: Rig, dataset: Dataset, first: dt.date, last: dt.date, stored: pd.DataFrame
) -> None:
    requests = len(rig.server.requests)
    again = rig.run(dataset, first, last)  # gap-aware: storage already holds every pair
    assert again.success and len(rig.server.requests) == requests
    assert metadata(again, dataset)["rows written"] == 0
    key = list(SPECS[dataset].key)
    pd.testing.assert_frame_equal(
        _stored(rig, dataset, first, last).sort_values(key).reset_index(drop=True),
        stored.sort_values(key).reset_index(drop=True),
    )


# ------------------------------------------------------------------ quarantine


def _refetch(server: FakeApi, request: RecordedRequest) -> Any:
    """The body the server gives for a request it received (same path, query and headers)."""
    query = urllib.parse.urlencode([(k, v) for k, values in request.query.items() for v in values])
    wanted = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
    host, port = urllib.parse.urlparse(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)  # keeps header names as sent
    try:
        connection.request("GET", f"{request.path}?{query}", headers=wanted)
        response = connection.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())
    finally:
        connection.close()


def _break_polygon(body: dict[str, Any]) -> str:
    row = next(r for r in body["results"] if r["T"] == "MSFT")
    row["h"] = row["l"] / 2
    return "MSFT"


def _break_alpaca(body: dict[str, Any]) -> str:
    row = body["bars"]["MSFT"][0]
    row["h"] = row["l"] / 2
    return "MSFT"


def _break_yahoo(body: dict[str, Any]) -> str:
    quote = body["chart"]["result"][0]["indicators"]["quote"][0]
    quote["high"][-1] = quote["low"][-1] / 2
    return body["chart"]["result"][0]["meta"]["symbol"]  # type: ignore[no-any-return]


def _break_benzinga(body: list[dict[str, Any]]) -> str:
    body[0]["title"] = None
    return "news"


BREAK: dict[str, tuple[Dataset, str, Callable[[Any], str], str]] = {
    # provider: (dataset, path of the request to corrupt, corruption, the reason expected)
    "polygon": (Dataset.BARS_1DAY, "/v2/aggs/grouped/", _break_polygon, "high below max(open, close)"),
    "alpaca": (Dataset.BARS_1DAY, "/v2/stocks/bars", _break_alpaca, "high below max(open, close)"),
    "yahoo": (Dataset.BARS_1DAY, "/v8/finance/chart/MSFT", _break_yahoo, "high below max(open, close)"),
    "benzinga": (Dataset.NEWS, "/api/v2/news", _break_benzinga, "missing title"),
}


@pytest.mark.parametrize("rig", list(SERVED), indirect=True)
def test_a_malformed_record_is_quarantined_with_its_reason_and_stored_nowhere(rig: Rig) -> None:
    dataset, path, corrupt, reason = BREAK[rig.provider]
    session = SESSIONS[-1]
    assert rig.platform.materialize(dataset, f"{session}|{LAYER}", provider=rig.provider).success
    clean = _stored(rig, dataset, session, session)
    recorded = [r for r in rig.server.requests if path in r.path]
    bodies = [_refetch(rig.server, r) for r in recorded]
    broken = corrupt(bodies[0])
    rig.server.respond(path, *bodies)
    refresh = rig.platform.materialize(
        dataset, f"{session}|{LAYER}", tags={"ai_trader/refresh": "full"}, provider=rig.provider
    )
    assert refresh.success
    quarantined = Ledger(rig.platform.database).quarantined(dataset)
    assert len(quarantined) == 1 and reason in quarantined.iloc[0]["reason"]
    assert quarantined.iloc[0]["partition_key"] == f"{session}|{LAYER}"
    # The broken record is stored nowhere: what storage holds is still the clean fetch's values (the
    # partition keeps its earlier valid row for the record the refresh rejected).
    stored = _stored(rig, dataset, session, session)
    key = ["symbol", "ts"] if dataset in BARS else ["id"]
    values = ["open", "high", "low", "close", "volume"] if dataset in BARS else ["title", "published_utc"]
    pd.testing.assert_frame_equal(
        stored.sort_values(key)[key + values].reset_index(drop=True),
        clean.sort_values(key)[key + values].reset_index(drop=True),
    )
    if dataset in BARS:  # the broken symbol's bar is still the clean one (compared above)
        assert broken in set(stored["symbol"])
    assert metadata(refresh, dataset)["rows quarantined"] == 1


# ---------------------------------------------------------------------- ticks


def _served_trades(rig: Rig, symbol: str) -> list[int]:
    """The times (ns) of the trades the server holds of ``symbol`` in AS_OF's session, oldest first."""
    if isinstance(rig.server, PolygonServer):
        return [t["sip_timestamp"] for t in rig.server.session_trades(symbol, AS_OF)]
    assert isinstance(rig.server, AlpacaServer)
    records = rig.server.trades.get(symbol) or alpaca_trades(symbol, AS_OF, rig.server.trades_per_session)
    return sorted(pd.Timestamp(t["t"]).value for t in records)


def _sips(frame: pd.DataFrame, symbol: str) -> list[int]:
    return sorted(frame.loc[frame["symbol"] == symbol, "sip_timestamp"].tolist())


@pytest.fixture
def ticks_rig(rig: Rig) -> Rig:
    """The rig's members in layer 3, each with TRADES_PER_SESSION trades a session on the server."""
    rig.place(TICKS_LAYER)
    assert isinstance(rig.server, PolygonServer | AlpacaServer)
    rig.server.trades_per_session = TRADES_PER_SESSION
    return rig


@pytest.mark.parametrize("rig", ["polygon", "alpaca"], indirect=True)
def test_ticks_hold_every_trade_served_once_in_hot_and_cold(ticks_rig: Rig) -> None:
    rig = ticks_rig
    result = rig.run(TICKS, AS_OF, AS_OF)
    assert result.success
    meta = metadata(result, TICKS)
    assert meta["served by"] == f"{rig.provider}: 3 symbols (AAPL, MSFT, VZ)" and meta["failover"] == "-"
    assert meta["provider requests"] == len(rig.server.requests) == len(MEMBERS) * TRADE_PAGES
    hot, cold = rig.platform.hot(TICKS), _stored(rig, TICKS, AS_OF, AS_OF)
    assert len(hot) == len(cold) == meta["rows written"] == len(MEMBERS) * TRADES_PER_SESSION
    for symbol in MEMBERS:
        served = _served_trades(rig, symbol)
        assert len(served) == TRADES_PER_SESSION and len(set(served)) == len(served)
        assert _sips(hot, symbol) == _sips(cold, symbol) == served  # each trade once, exact to the ns
    assert set(hot["source"]) == set(cold["source"]) == {rig.provider}
    secrets = {v for k, v in KEYS.items() if k.startswith(rig.provider.upper())}
    for request in rig.server.requests:  # keys travel in headers, never in a URL
        url = request.path + "?" + urllib.parse.urlencode(request.query, doseq=True)
        assert not any(secret in url for secret in secrets), url
    _assert_a_second_run_stores_nothing(rig, TICKS, AS_OF, AS_OF, cold)


def _break_second_page(rig: Rig, monkeypatch: pytest.MonkeyPatch, symbol: str) -> str:
    """``symbol``'s first page of trades arrives whole, then no attempt at its second succeeds: Polygon's
    comes without its ``results`` (cut short), Alpaca's is a 503 storm. Returns the run's error."""
    attempts = load_config().providers.providers[rig.provider].retries.max_attempts  # type: ignore[index]
    if isinstance(rig.server, PolygonServer):
        path = f"{TRADES_PATH['polygon']}{symbol}"
        rig.server.cut_short(path, skip=1, times=attempts + 1, drop_results=True)
        return "without a 'results' list (cut short)"
    server, generate = rig.server, rig.server.generate

    def storm_after_the_first_page(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if query.get("symbols") == [symbol] and "page_token" not in query:  # its first page, served
            server.fail(TRADES_PATH["alpaca"], 503, times=attempts + 1)  # to the requests that follow
        return generate(path, query)

    monkeypatch.setattr(server, "generate", storm_after_the_first_page)
    return f"gave up after {attempts} attempts"


@pytest.mark.parametrize("rig", ["polygon", "alpaca"], indirect=True)
def test_a_trades_page_that_never_arrives_fails_the_run_and_stores_no_part_of_the_session(
    ticks_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = ticks_rig
    error = _break_second_page(rig, monkeypatch, "MSFT")
    result = rig.run(TICKS, AS_OF, AS_OF)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert error in str(failure.event_specific_data.error), failure.event_specific_data.error
    # The slices before it (one symbol-session each) stay stored; MSFT's first page is stored nowhere.
    hot, cold = rig.platform.hot(TICKS), _stored(rig, TICKS, AS_OF, AS_OF)
    assert _sips(hot, "AAPL") == _sips(cold, "AAPL") == _served_trades(rig, "AAPL")
    assert set(hot["symbol"]) == set(cold["symbol"]) == {"AAPL"}
    assert set(Ledger(rig.platform.database).fetched(TICKS, [AS_OF], MEMBERS)) == {(AS_OF, "AAPL")}
