"""Run the real assets in-process against a test market database, lake and provider."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.market_data.assets import build_asset
from ai_trader_assets.defs.market_data.partitions import market_partitions
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.defs.platform.resources import provider_resource
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.tables import LakeTables, lake_tables
from ai_trader_assets_tests.support.lake import s3_lake
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, create_bucket


@dataclasses.dataclass
class Platform:
    database: MarketDatabase
    lake: Lake
    as_of: dt.date

    def asset(self, dataset: Dataset) -> dg.AssetsDefinition:
        config = load_config()
        partitions = market_partitions(config.pipeline.partitions.start_date, self.as_of)
        return build_asset(dataset, partitions, pool="test")

    def materialize(
        self,
        dataset: Dataset,
        first: str,
        last: str | None = None,
        tags: dict[str, str] | None = None,
        provider: str | None = None,
    ) -> dg.ExecuteInProcessResult:
        """One run over a partition, or over the range first..last (as a range backfill run would).

        ``provider`` makes that provider the primary (any of them, benzinga included; the
        environment's AI_TRADER_PROVIDER offers only those that serve bars)."""
        run_tags = dict(tags or {})
        if last is not None:
            run_tags |= {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            }
        bound = dict(resources().resources or {})
        if provider is not None:
            bound["provider"] = provider_resource(load_settings(), kind=provider)
        definitions = dg.Definitions(assets=[self.asset(dataset)], resources=bound)
        job = definitions.resolve_implicit_global_asset_job_def()
        with dg.instance_for_test() as instance:
            return job.execute_in_process(
                instance=instance,
                partition_key=None if last is not None else first,
                tags=run_tags,
                raise_on_error=False,
            )

    def hot(self, dataset: Dataset) -> pd.DataFrame:
        return HotStore(self.database).read(dataset)

    @property
    def tables(self) -> LakeTables:
        return lake_tables(self.lake, load_config(), self.database)

    def cold(self, dataset: Dataset, session: dt.date, layer: int) -> pd.DataFrame | None:
        """A partition's rows in the Delta table (what the first release kept in one file), or None."""
        frame = self.tables.frame(dataset, sessions=[session], layers=[layer])
        return None if frame.empty else frame

    def count(self, table: str) -> int:
        with self.database.begin() as conn:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def lake_partitions(lake: Lake, dataset: str) -> list[tuple[dt.date, int]]:
    """Every (session, layer) the dataset's Delta table holds rows for."""
    return lake_tables(lake, load_config()).partitions(Dataset(dataset))


def metadata(result: dg.ExecuteInProcessResult, dataset: Dataset) -> dict[str, Any]:
    materializations = result.asset_materializations_for_node(dataset.value)
    return {k: getattr(v, "value", v) for k, v in materializations[0].metadata.items()}


def lake_platform(
    request: pytest.FixtureRequest,
    *,
    database: MarketDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    configure: Callable[[str], None],
    as_of: dt.date,
) -> Platform:
    """A platform on a local lake or on a bucket of the module's ``s3_endpoint`` fixture (its S3
    variables set), as ``request.param`` says; ``configure`` sets up the rest of the environment for
    the lake's URL."""
    if request.param == "local lake":
        configure(str(tmp_path / "lake"))
        return Platform(database, Lake(str(tmp_path / "lake")), as_of)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    create_bucket(endpoint, bucket)
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    configure(f"s3://{bucket}/lake")
    return Platform(database, s3_lake(endpoint, bucket), as_of)
