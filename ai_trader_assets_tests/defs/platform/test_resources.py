"""The code location loads, its resources work inside a real Dagster run, and the UI shows no secret."""

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets.definitions import defs
from ai_trader_assets.defs.platform.definitions import resources
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    PlatformConfigResource,
)
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase

DB_PASSWORD = "pg-SENTINEL-5521"
AWS_SECRET = "aws-SENTINEL-secret-77"
API_KEY = "polygon-SENTINEL-key-31"
PROVIDER_SECRETS = {
    "ALPACA_API_KEY": "alpaca-SENTINEL-id-12",
    "ALPACA_SECRET_KEY": "alpaca-SENTINEL-secret-34",
    "BENZINGA_API_KEY": "benzinga-SENTINEL-key-56",
}

RESOURCES_QUERY = """
query ($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results { name configuredValues { key value type } }
    }
    ... on PythonError { message }
  }
}
"""


def test_definitions_load_and_register_the_platform_resources() -> None:
    loaded = defs()
    assert set(loaded.resources or {}) >= {"platform", "market_db", "lake", "provider"}


def test_resources_work_inside_a_run(
    market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("AI_TRADER_AS_OF", "2026-11-20")
    CompaniesRepository(market_db).upsert(
        [{"symbol": "AAPL", "layer": 2}, {"symbol": "F", "layer": 0}], source="test"
    )

    @dg.asset
    def probe(
        context: dg.AssetExecutionContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        members = market_db.companies().members(2)
        hot_days = platform.get().window(2, "bars_1day").hot_days  # type: ignore[union-attr]
        table = lake.get_lake().table_uri("bars_1day")
        return dg.MaterializeResult(metadata={"members": members, "hot_days": hot_days, "lake": table})

    with dg.instance_for_test() as instance:
        result = dg.materialize([probe], resources=resources().resources, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("probe")[0].metadata
    assert metadata["members"].value == ["AAPL"] and metadata["hot_days"].value == 60
    assert metadata["lake"].value == f"{tmp_path / 'lake'}/bars_1day"


def test_the_ui_shows_variable_names_never_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", f"postgresql://trader:{DB_PASSWORD}@127.0.0.1:1/market")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("POLYGON_API_KEY", API_KEY)
    for name, value in PROVIDER_SECRETS.items():
        monkeypatch.setenv(name, value)
    with (
        dg.instance_for_test() as instance,
        define_out_of_process_context(str(REPO_ROOT / "workspace.yaml"), None, instance) as context,
    ):
        result = execute_dagster_graphql(
            context,
            RESOURCES_QUERY,
            {"selector": {"repositoryLocationName": "ai_trader_assets", "repositoryName": "__repository__"}},
        )
    assert result.errors is None, result.errors
    payload = result.data["allTopLevelResourceDetailsOrError"]
    assert payload["__typename"] == "ResourceDetailsList", payload
    shown = json.dumps(payload)
    for secret in (DB_PASSWORD, AWS_SECRET, API_KEY, *PROVIDER_SECRETS.values()):
        assert secret not in shown
    values = {
        (r["name"], v["key"]): (v["type"], v["value"])
        for r in payload["results"]
        for v in r["configuredValues"]
    }
    assert values[("market_db", "url")] == ("ENV_VAR", "AI_TRADER_DATABASE_URL")
    assert values[("lake", "aws_secret_access_key")] == ("ENV_VAR", "AWS_SECRET_ACCESS_KEY")
    assert values[("provider", "kind")] == ("VALUE", '"polygon"')
    # Every key as the variable that holds it, never its value.
    kind, shown_keys = values[("provider", "api_keys")]
    assert kind == "VALUE" and json.loads(shown_keys) == {
        name: {"env": name}
        for name in ("POLYGON_API_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "BENZINGA_API_KEY")
    }
