"""The planner's choice between REST and Massive's flat files, against a real bucket (moto): sizes
from its listing, the cheaper source per dataset, sessions without an object on REST, and errors
that name what to fix."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.planning.backfill_plan import BackfillPlanError, BackfillPlanner
from ai_trader_assets.providers import build_flatfiles
from ai_trader_assets.providers.base import SessionFiles
from ai_trader_assets.settings import ProviderAccess, Secret
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets_tests.support.flatfiles import put_sessions
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, moto_server

TODAY = dt.date(2026, 11, 20)  # a Friday: its files are published on Saturday morning
SESSIONS = calendar.sessions(dt.date(2026, 11, 9), TODAY)
LAYER1 = [f"S{i:02d}" for i in range(30)]


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    with moto_server() as endpoint:
        put_sessions(endpoint, LAYER1[:2], SESSIONS[:-1], filler=200)
        yield endpoint


def files(endpoint: str, tmp_path: Path, secret: str = SECRET_ACCESS_KEY) -> SessionFiles:
    access = ProviderAccess(
        endpoints={"MASSIVE_S3_ENDPOINT": endpoint},
        keys={
            "MASSIVE_S3_ACCESS_KEY_ID": Secret(ACCESS_KEY_ID),
            "MASSIVE_S3_SECRET_ACCESS_KEY": Secret(secret),
        },
    )
    built = build_flatfiles(load_config(), access, tmp_path / "limits")
    assert built is not None
    return built


def planner(
    market_db: MarketDatabase,
    flatfiles: SessionFiles | None,
    *,
    source: str = "auto",
    config: PlatformConfig | None = None,
) -> BackfillPlanner:
    companies = CompaniesRepository(market_db)
    companies.upsert([{"symbol": s, "layer": 1} for s in LAYER1], source="test")
    return BackfillPlanner(
        companies,
        Ledger(market_db),
        config or load_config(),
        TODAY,
        "polygon",
        flatfiles=flatfiles,
        source=source,
    )


def with_rate(bytes_per_second: int) -> PlatformConfig:
    config = load_config()
    providers = config.providers.providers
    spec = providers["massive_flatfiles"]
    assert spec.flat_files is not None
    slow = spec.model_copy(
        update={"flat_files": spec.flat_files.model_copy(update={"bytes_per_second": bytes_per_second})}
    )
    return config.model_copy(
        update={
            "providers": config.providers.model_copy(
                update={"providers": providers | {"massive_flatfiles": slow}}
            )
        }
    )


def test_the_cheaper_source_is_chosen_per_dataset_over_the_sessions_the_bucket_has(
    market_db: MarketDatabase, bucket: str, tmp_path: Path
) -> None:
    plan = planner(market_db, files(bucket, tmp_path)).plan("layer1", 12, [Dataset.BARS_5MIN, Dataset.NEWS])
    five, news = plan.layers[0].datasets
    assert news.flatfiles is None and news.via == "REST"
    assert five.flatfiles is not None and five.via == "flat files"
    # One object per published session; the last session's files are not out yet: it comes over REST.
    assert five.flatfiles.objects == len(SESSIONS) - 1 and five.flatfiles.bytes > 0
    assert five.flatfiles.rest_requests == len(LAYER1)  # one range request per symbol, instead
    assert five.requests == len(LAYER1)  # ...still made for the last session
    assert five.flatfiles.seconds < five.flatfiles.rest_seconds

    # The same objects at 1 byte a second cost more than 30 requests: REST is planned.
    slow = planner(market_db, files(bucket, tmp_path), config=with_rate(1)).plan(
        "layer1", 12, [Dataset.BARS_5MIN]
    )
    assert slow.layers[0].datasets[0].flatfiles is None and slow.from_files == ()
    # ...unless the user forces the files.
    forced = planner(market_db, files(bucket, tmp_path), source="flatfiles", config=with_rate(1))
    assert forced.plan("layer1", 12, [Dataset.BARS_5MIN]).layers[0].datasets[0].via == "flat files"
    rest = planner(market_db, files(bucket, tmp_path), source="rest").plan("layer1", 12, [Dataset.BARS_5MIN])
    assert rest.from_files == ()


def test_choosing_flat_files_without_them_names_the_variables(market_db: MarketDatabase) -> None:
    with pytest.raises(BackfillPlanError, match="MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY"):
        planner(market_db, None, source="flatfiles")
    with pytest.raises(BackfillPlanError, match="expected one of auto, rest, flatfiles"):
        planner(market_db, None, source="s3")
    # Without the keys, auto is REST only.
    plan = planner(market_db, None).plan("layer1", 12, [Dataset.BARS_5MIN])
    assert plan.from_files == ()


@pytest.mark.parametrize("market_db", ["sqlite"], indirect=True)
def test_keys_the_bucket_refuses_fail_the_plan_naming_the_variables_never_the_secret(
    market_db: MarketDatabase, tmp_path: Path
) -> None:
    with moto_server(check_keys=True) as strict:
        refused = planner(market_db, files(strict, tmp_path, secret="wrong-SECRET-77c1"))
        with pytest.raises(BackfillPlanError) as caught:
            refused.plan("layer1", 12, [Dataset.BARS_1DAY])
    assert "MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY" in str(caught.value)
    assert "wrong-SECRET" not in str(caught.value)
