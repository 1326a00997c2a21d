"""Failover per dataset, with real clients against local servers: Polygon failing, Benzinga serving."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_trader_assets.config import SERVES, PlatformConfig, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers import FailoverProvider, build_provider, build_single, provider_order
from ai_trader_assets.providers.base import AuthenticationError, ProviderError, ProviderUnavailableError
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.settings import ProviderAccess, Secret
from ai_trader_assets_tests.support.benzinga_server import BenzingaServer
from ai_trader_assets_tests.support.polygon_server import PolygonServer

POLYGON_KEY = "pk_SENTINEL_failover_1"
BENZINGA_KEY = "bz_SENTINEL_failover_2"
START = dt.datetime(2026, 11, 18, 21, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 20, 21, tzinfo=dt.UTC)


@pytest.fixture
def fast_config() -> PlatformConfig:
    """The shipped configuration with retries that do not wait (the policy is tested per provider)."""
    config = load_config()
    providers = {
        name: spec.model_copy(
            update={
                "retries": spec.retries.model_copy(
                    update={"initial_backoff_seconds": 0, "max_backoff_seconds": 0, "jitter_seconds": 0}
                ),
                "timeouts": spec.timeouts.model_copy(update={"read_seconds": 2}),
            }
        )
        for name, spec in config.providers.providers.items()
    }
    return config.model_copy(
        update={"providers": config.providers.model_copy(update={"providers": providers})}
    )


@pytest.fixture
def servers() -> Iterator[tuple[PolygonServer, BenzingaServer]]:
    with PolygonServer(POLYGON_KEY) as polygon, BenzingaServer(BENZINGA_KEY) as benzinga:
        yield polygon, benzinga


def access(
    polygon: PolygonServer, benzinga: BenzingaServer, polygon_key: str = POLYGON_KEY
) -> ProviderAccess:
    return ProviderAccess(
        endpoints={
            "POLYGON_BASE_URL": polygon.url,
            "ALPACA_DATA_URL": "http://127.0.0.1:9",
            "YAHOO_BASE_URL": "http://127.0.0.1:9",
            "BENZINGA_BASE_URL": benzinga.url,
        },
        keys={"POLYGON_API_KEY": Secret(polygon_key), "BENZINGA_API_KEY": Secret(BENZINGA_KEY)},
    )


def test_news_fails_over_to_benzinga_when_polygon_answers_503_and_polygon_is_skipped_after(
    servers: tuple[PolygonServer, BenzingaServer], fast_config: PlatformConfig, tmp_path: Path
) -> None:
    polygon, benzinga = servers
    attempts = fast_config.providers.providers["polygon"].retries.max_attempts
    polygon.fail("/v2/reference/news", 503, times=100)
    provider = build_provider("polygon", fast_config, access(polygon, benzinga), tmp_path)
    assert isinstance(provider, FailoverProvider)
    assert provider.order[Dataset.NEWS] == ("polygon", "benzinga")  # alpaca has no keys: not tried
    assert provider.grouped_daily  # daily bars would come from polygon's grouped endpoint

    result = provider.news(["AAPL", "MSFT"], START, END)
    assert result.served == {"benzinga": ("AAPL", "MSFT")}
    assert len(result.failovers) == 1 and "polygon could not serve news" in result.failovers[0]
    assert "HTTP 503" in result.failovers[0] and "trying benzinga" in result.failovers[0]
    assert not result.frame.empty and set(result.frame["source"]) == {"benzinga"}
    assert result.frame["id"].str.startswith("benzinga:").all()
    expected = DemoProvider().news(["AAPL", "MSFT"], START, END).frame
    assert len(result.frame) == len(expected)
    assert len(polygon.requests) == attempts  # one request's retries, then given up

    again = provider.news(["NVDA"], START, END)  # polygon is skipped for the rest of the run
    assert again.served == {"benzinga": ("NVDA",)} and again.failovers == ()
    assert len(polygon.requests) == attempts and "polygon" in provider.unavailable
    assert not provider.grouped_daily  # polygon is out for the run: slices are planned per symbol


def test_a_refused_polygon_key_fails_naming_it_and_nothing_fails_over(
    servers: tuple[PolygonServer, BenzingaServer], fast_config: PlatformConfig, tmp_path: Path
) -> None:
    polygon, benzinga = servers
    provider = build_provider("polygon", fast_config, access(polygon, benzinga, "wrong-key"), tmp_path)
    with pytest.raises(AuthenticationError, match="POLYGON_API_KEY") as info:
        provider.news(["AAPL"], START, END)
    assert "wrong-key" not in str(info.value) and POLYGON_KEY not in str(info.value)
    assert len(polygon.requests) == 1 and benzinga.requests == []


def test_when_every_provider_fails_the_error_names_each(
    servers: tuple[PolygonServer, BenzingaServer], fast_config: PlatformConfig, tmp_path: Path
) -> None:
    polygon, benzinga = servers
    polygon.fail("/v2/reference/news", 502, times=100)
    benzinga.fail("/api/v2/news", 500, times=100)
    provider = build_provider("polygon", fast_config, access(polygon, benzinga), tmp_path)
    with pytest.raises(ProviderUnavailableError, match="every provider of news failed") as info:
        provider.news(["AAPL"], START, END)
    assert "HTTP 502" in str(info.value) and "HTTP 500" in str(info.value)


def test_the_order_puts_the_primary_first_keeps_configured_providers_and_never_demo(
    fast_config: PlatformConfig,
) -> None:
    keys = ("POLYGON_API_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "BENZINGA_API_KEY")
    everything = ProviderAccess(keys={variable: Secret("k") for variable in keys})
    order = provider_order("alpaca", fast_config, everything)
    assert order[Dataset.BARS_1DAY] == ("alpaca", "polygon")
    assert order[Dataset.NEWS] == ("alpaca", "polygon", "benzinga")
    yahoo_first = provider_order("yahoo", fast_config, everything)
    assert yahoo_first[Dataset.NEWS] == ("polygon", "alpaca", "benzinga")  # yahoo serves no news
    assert yahoo_first[Dataset.CORPORATE_ACTIONS][0] == "yahoo"
    polygon_only = ProviderAccess(keys={"POLYGON_API_KEY": Secret("p")})
    assert provider_order("polygon", fast_config, polygon_only)[Dataset.BARS_1MIN] == ("polygon",)
    for primary in ("polygon", "alpaca", "yahoo"):
        for dataset, names in provider_order(primary, fast_config, everything).items():
            assert "demo" not in names and all(dataset in SERVES[name] for name in names)
    assert set(provider_order("demo", fast_config, everything).values()) == {("demo",)}
    assert isinstance(build_provider("demo", fast_config, everything, Path("/nonexistent")), DemoProvider)


def test_a_provider_without_its_keys_says_which_variable(fast_config: PlatformConfig, tmp_path: Path) -> None:
    bare = ProviderAccess(keys={"ALPACA_API_KEY": Secret("")})  # an empty value is no key
    with pytest.raises(ProviderError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        build_provider("alpaca", fast_config, bare, tmp_path)
    with pytest.raises(ProviderError, match="BENZINGA_API_KEY"):
        build_single("benzinga", fast_config, bare, tmp_path)
