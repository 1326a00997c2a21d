"""``ai-trader backfill`` with Massive's flat files set up: a PostgreSQL market database, the files in a
local S3 server (moto, thousands of tickers per session) and the Polygon stand-in for REST. The plan
reads bars from the files, a session without an object comes over REST, and nothing is stored twice."""

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import deltalake
import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_TABLES
from ai_trader_assets.providers.massive_flatfiles import object_key
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.flatfiles import BUCKET, put_sessions, s3_client
from ai_trader_assets_tests.support.polygon_server import PolygonServer
from ai_trader_assets_tests.support.postgres import DatabaseFactory
from ai_trader_assets_tests.support.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, moto_server

AS_OF = dt.date(2026, 11, 20)  # a Friday: its files appear on Saturday morning, after "now"
API_KEY = "ff-key"
# More symbols than Polygon's burst: each one's range is a paced REST request, so the files are cheaper.
LAYER1 = ["IBM", "KO", "PEP", "GE", "F", "T", "MMM", "CAT", "DE", "HD", "LOW", "MCD"]
FILLER = 3000  # other tickers in every file, as the real ones list the whole market
SESSIONS = calendar.sessions(AS_OF - dt.timedelta(days=29), AS_OF)
MISSING = SESSIONS[5]  # its minute file is not in the bucket
runner = CliRunner()


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    with moto_server() as endpoint:
        put_sessions(endpoint, LAYER1, SESSIONS[:-1], filler=FILLER)
        s3_client(endpoint).delete_object(Bucket=BUCKET, Key=object_key("minute_aggs_v1", MISSING))
        yield endpoint


@pytest.fixture
def polygon(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    isolated_environment: Path,
    postgres_databases: DatabaseFactory,
    bucket: str,
) -> Iterator[PolygonServer]:
    config = isolated_environment.parent / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    providers = yaml.safe_load((config / "providers.yaml").read_text())
    providers["reconciliation"]["against"] = ["polygon"]  # rows read from files, checked against REST
    (config / "providers.yaml").write_text(yaml.safe_dump(providers))
    monkeypatch.setenv("AI_TRADER_CONFIG_DIR", str(config))
    # The fill runs on PostgreSQL (the set-up), the corrupt object on the embedded SQLite.
    if getattr(request, "param", "postgresql") == "postgresql":
        url = postgres_databases.create()
        monkeypatch.setenv("AI_TRADER_DATABASE_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    for variable, value in {
        "MASSIVE_S3_ENDPOINT": bucket,
        "MASSIVE_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "MASSIVE_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }.items():
        monkeypatch.setenv(variable, value)
    with PolygonServer(API_KEY, market=LAYER1) as server:
        monkeypatch.setenv("POLYGON_API_KEY", API_KEY)
        monkeypatch.setenv("POLYGON_BASE_URL", server.url)
        database = MarketDatabase(load_settings().database_url)
        migrations.upgrade(database)
        CompaniesRepository(database).upsert([{"symbol": s, "layer": 1} for s in LAYER1], source="test")
        database.dispose()
        yield server


def backfill(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["backfill", "--symbols", "layer1", "--days", "30", *args])
    return result.exit_code, result.output


def hot_rows(dataset: Dataset) -> list[tuple[str, dt.datetime, str]]:
    database = MarketDatabase(load_settings().database_url)
    try:
        with database.begin() as conn:
            table = BAR_TABLES[dataset]  # typed: times come back as UTC datetimes on both engines
            rows = conn.execute(sa.select(table.c.symbol, table.c.ts, table.c.source))
            return [(r.symbol, r.ts, r.source) for r in rows]
    finally:
        database.dispose()


def cold_rows(dataset: Dataset) -> list[tuple[str, dt.datetime, str]]:
    lake = Lake(load_settings().lake_url)
    table = deltalake.DeltaTable(lake.table_uri(dataset)).to_pyarrow_dataset()
    rows = table.to_table(columns=["symbol", "ts", "source"]).to_pylist()
    return [(r["symbol"], r["ts"], r["source"]) for r in rows]


def session_of(ts: dt.datetime) -> dt.date:
    return ts.astimezone(calendar.NEW_YORK).date()


def test_a_layer_fill_reads_bars_from_flat_files_and_rest_only_where_files_are_missing(
    polygon: PolygonServer,
) -> None:
    code, plan = backfill("--dry-run")
    assert code == 0, plan
    # Daily, hourly and 5-minute bars of every session but the last (its files are not out at the end
    # of its day), less the missing minute file (hourly and 5-minute bars).
    published = len(SESSIONS) - 1
    assert f"via flat files: {3 * published - 2} objects" in plan
    assert "instead of 36 REST requests" in plan  # 12 symbols' ranges, per bar dataset
    rows = [line.split() for line in plan.splitlines() if line.startswith("  1 ")]
    assert {row[1]: " ".join(row[8:]) for row in rows} == {
        "bars_1day": "flat files",
        "bars_1hour": "flat files",
        "bars_5min": "flat files",
        "news": "REST",
        "corporate_actions": "REST",
    }
    assert polygon.requests == []

    code, output = backfill()
    assert code == 0, output
    aggregates = polygon.requests_to("/v2/aggs/")
    asked = {r.path.rstrip("/").split("/")[-1] for r in aggregates}  # the session (grouped) or range end
    # REST served bars only for the session whose files are not out yet and the one whose minute file
    # is missing (its hourly and 5-minute bars); every other session came from the files.
    assert asked == {AS_OF.isoformat(), MISSING.isoformat()}, sorted(asked)

    for dataset, per_session in [(Dataset.BARS_5MIN, 78), (Dataset.BARS_1HOUR, 7), (Dataset.BARS_1DAY, 1)]:
        cold, hot = cold_rows(dataset), hot_rows(dataset)
        keys = [(symbol, ts) for symbol, ts, _ in cold]
        assert len(keys) == len(set(keys)) > 0, dataset  # each row once in the lake
        hot_keys = [(symbol, ts) for symbol, ts, _ in hot]
        # ...and once in SQL, for the sessions of the layer's hot window: the same rows
        assert len(hot_keys) == len(set(hot_keys)) > 0 and set(hot_keys) <= set(keys), dataset
        by_session: dict[dt.date, set[str]] = {}
        for _, ts, source in cold:
            by_session.setdefault(session_of(ts), set()).add(source)
        assert set(by_session) == set(SESSIONS), dataset
        rest = {AS_OF} | ({MISSING} if dataset != Dataset.BARS_1DAY else set())
        for session, sources in by_session.items():
            assert sources == ({"polygon"} if session in rest else {"massive_flatfiles"}), (dataset, session)
        # Flat-file minutes include a pre-market and an after-hours minute per symbol (own bars).
        extra = 0 if dataset == Dataset.BARS_1DAY else 2
        expected = sum(len(LAYER1) * (per_session + (0 if s in rest else extra)) for s in SESSIONS)
        assert len(cold) == expected, dataset

    polygon.requests.clear()
    code, output = backfill()
    assert code == 0 and "nothing to fetch" in output, output
    assert polygon.requests == []

    # Reconciliation compares the daily bars read from files with Polygon's REST (the same market).
    compared = runner.invoke(
        app,
        [
            "reconcile",
            "--symbols",
            ",".join(LAYER1[:3]),
            "--start",
            str(SESSIONS[0]),
            "--end",
            str(SESSIONS[-2]),
        ],
    )
    assert compared.exit_code == 0, compared.output
    assert (
        f"compared {3 * (len(SESSIONS) - 1)} symbol-session(s) with polygon: 0 divergence(s)"
        in compared.output
    )
    assert polygon.requests_to("/v2/aggs/")


@pytest.mark.parametrize("polygon", ["sqlite"], indirect=True)
def test_a_corrupt_object_fails_its_session_and_stores_nothing_of_it(
    polygon: PolygonServer, bucket: str
) -> None:
    broken = SESSIONS[3]
    client = s3_client(bucket)
    key = object_key("day_aggs_v1", broken)
    good = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    client.put_object(Bucket=BUCKET, Key=key, Body=good[: len(good) // 2])
    try:
        code, output = backfill("--datasets", "bars_1day", "--source", "flatfiles")
    finally:
        client.put_object(Bucket=BUCKET, Key=key, Body=good)
    assert code == 1, output
    stored = {session_of(ts) for _, ts, _ in hot_rows(Dataset.BARS_1DAY)}
    assert stored == set(SESSIONS[:3])  # the sessions before it, each whole; nothing of it or after
    assert not [r for r in polygon.requests if "/v2/aggs/" in r.path and broken.isoformat() in r.path]
