"""Environment settings: embedded defaults, errors that name the variable, secrets kept out of sight."""

import datetime as dt
import logging
from pathlib import Path

import pytest

from ai_trader_assets.defs.platform.resources import PlatformConfigResource
from ai_trader_assets.settings import NEW_YORK, PROVIDER_ENDPOINTS, SettingsError, load_settings

API_KEY = "pk_live_SENTINEL_4f9c2e"
DB_PASSWORD = "db-SENTINEL-pw-8812"


def test_embedded_defaults(isolated_environment: Path) -> None:
    settings = load_settings()
    home = isolated_environment
    assert settings.home == home
    assert settings.database_url.get_backend_name() == "sqlite"
    assert settings.database_url.database == str(home / "market.db")
    assert settings.lake_url == str(home / "lake")
    assert settings.provider == "demo"
    assert settings.access.key("POLYGON_API_KEY") is None
    assert settings.access.endpoint("POLYGON_BASE_URL") == PROVIDER_ENDPOINTS["POLYGON_BASE_URL"]
    assert settings.dagster_home == home / "dagster"
    assert settings.as_of is None


def test_provider_defaults_to_polygon_when_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", API_KEY)
    settings = load_settings()
    assert settings.provider == "polygon"
    key = settings.access.key("POLYGON_API_KEY")
    assert key is not None and key.reveal() == API_KEY


def test_provider_defaults_to_alpaca_when_only_its_keys_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", "ak-id")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "ak-secret")
    settings = load_settings()
    assert settings.provider == "alpaca" and "ak-secret" not in repr(settings)


def test_postgres_url_uses_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", "postgresql://u@db:5432/market")
    assert load_settings().database_url.drivername == "postgresql+psycopg"


def test_as_of_pins_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_TRADER_AS_OF", "2026-11-20")
    settings = load_settings()
    assert settings.today().isoformat() == "2026-11-20"
    # A date alone is the end of that day: its session has closed.
    assert (
        settings.now() == dt.datetime(2026, 11, 21, tzinfo=NEW_YORK) and settings.as_of_text == "2026-11-20"
    )


@pytest.mark.parametrize(
    ("value", "now"),
    [
        ("2026-11-20T11:00", dt.datetime(2026, 11, 20, 11, 0, tzinfo=NEW_YORK)),  # New York time
        ("2026-11-20 11:05:30", dt.datetime(2026, 11, 20, 11, 5, 30, tzinfo=NEW_YORK)),
        ("2026-11-20T16:00:00+00:00", dt.datetime(2026, 11, 20, 11, 0, tzinfo=NEW_YORK)),  # an offset
    ],
)
def test_as_of_may_carry_a_new_york_time(
    monkeypatch: pytest.MonkeyPatch, value: str, now: dt.datetime
) -> None:
    monkeypatch.setenv("AI_TRADER_AS_OF", value)
    settings = load_settings()
    assert settings.now() == now and settings.today() == dt.date(2026, 11, 20)
    resource = PlatformConfigResource(config_dir=str(settings.config_dir), as_of=settings.as_of_text)
    assert resource.now() == now and resource.today() == dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AI_TRADER_PROVIDER", "polygon", "POLYGON_API_KEY"),
        ("AI_TRADER_PROVIDER", "bloomberg", "AI_TRADER_PROVIDER"),
        ("AI_TRADER_PROVIDER", "alpaca", "ALPACA_SECRET_KEY"),
        ("BENZINGA_API_KEY", "bz-key", "AI_TRADER_PROVIDER"),  # a real key but no primary: never demo
        ("ALPACA_API_KEY", "ak-key", "AI_TRADER_PROVIDER"),  # half of alpaca's keys
        ("YAHOO_BASE_URL", "query2.finance.yahoo.com", "YAHOO_BASE_URL"),
        ("AI_TRADER_AS_OF", "20/11/2026", "AI_TRADER_AS_OF"),
        ("AI_TRADER_AS_OF", "2026-11-20T25:00", "AI_TRADER_AS_OF"),
        ("AI_TRADER_DATABASE_URL", "mysql://u@h/db", "AI_TRADER_DATABASE_URL"),
        ("AI_TRADER_DATABASE_URL", "not a url", "AI_TRADER_DATABASE_URL"),
        ("AI_TRADER_LAKE_URL", "gs://bucket/x", "AI_TRADER_LAKE_URL"),
        ("AI_TRADER_LAKE_URL", "s3://", "AI_TRADER_LAKE_URL"),
        ("POLYGON_BASE_URL", "api.massive.com", "POLYGON_BASE_URL"),
        ("AI_TRADER_CONFIG_DIR", "/nonexistent/config", "AI_TRADER_CONFIG_DIR"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_secrets_stay_out_of_reprs_errors_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", API_KEY)
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", f"postgresql://trader:{DB_PASSWORD}@db:5432/market")
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    logging.getLogger("test").info("settings: %s / %r", settings, settings)
    shown = [repr(settings), str(settings), str(settings.access.key("POLYGON_API_KEY")), caplog.text]
    for text in shown:
        assert API_KEY not in text and DB_PASSWORD not in text
    assert "postgresql+psycopg://trader:***@db:5432/market" in repr(settings)

    monkeypatch.setenv("AI_TRADER_DATABASE_URL", f"oracle://trader:{DB_PASSWORD}@db/market")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert DB_PASSWORD not in str(info.value) and "***" in str(info.value)
