"""``ai-trader backfill`` in-process (no webserver configured) against a real Dagster instance, the
SQLite market database and the local Polygon server. The webserver path has its end-to-end test in
``e2e/test_daemon.py``.
"""

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets_tests.support.platform import lake_partitions
from ai_trader_assets_tests.support.polygon_server import PolygonServer

AS_OF = dt.date(2026, 11, 20)
API_KEY = "cli-key"
LAYERS = {"AAPL": 3, "MSFT": 3, "NVDA": 2, "IBM": 1, "F": 0}
runner = CliRunner()


@pytest.fixture
def polygon(monkeypatch: pytest.MonkeyPatch, isolated_environment: Path) -> Iterator[PolygonServer]:
    """The embedded default (SQLite, local lake, instance under AI_TRADER_HOME) with the Polygon
    provider pointed at the local server, so every provider request is seen."""
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    with PolygonServer(API_KEY, market=list(LAYERS)) as server:
        monkeypatch.setenv("POLYGON_API_KEY", API_KEY)
        monkeypatch.setenv("POLYGON_BASE_URL", server.url)
        database = MarketDatabase(load_settings().database_url)
        migrations.upgrade(database)
        CompaniesRepository(database).upsert(
            [{"symbol": s, "layer": layer} for s, layer in LAYERS.items()], source="test"
        )
        database.dispose()
        yield server


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["backfill", *args])
    return result.exit_code, result.output


def count(sql: str) -> int:
    database = MarketDatabase(load_settings().database_url)
    try:
        with database.begin() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        database.dispose()


def runs() -> list[dg.DagsterRun]:
    home = load_settings().dagster_home
    if not home.exists():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_runs())


def planned_requests(output: str) -> int:
    match = re.search(r"about (\d+) polygon request\(s\)", output)
    assert match, output
    return int(match.group(1))


def test_dry_run_prints_the_plan_and_fetches_and_launches_nothing(polygon: PolygonServer) -> None:
    code, output = invoke("--symbols", "layer3", "--days", "30", "--dry-run")
    assert code == 0, output
    sessions = calendar.sessions(AS_OF - dt.timedelta(days=29), AS_OF)
    bars_1min = next(line for line in output.splitlines() if " bars_1min " in line).split()
    assert bars_1min == [
        "3",
        "bars_1min",
        str(len(sessions)),
        str(sessions[0]),
        str(sessions[-1]),
        "2",
        f"{2 * len(sessions)}/{2 * len(sessions)}",
        "2",
        "REST",
    ]
    assert "layer 3 symbols: AAPL, MSFT" in output
    assert "at 10/s, 300/min" in output and planned_requests(output) > 0
    assert "dry run: nothing fetched, nothing launched" in output
    assert polygon.requests == []
    assert count("SELECT COUNT(*) FROM backfill_requests") == 0
    assert runs() == []


def test_an_in_process_backfill_runs_in_the_instance_and_fetches_what_it_planned(
    polygon: PolygonServer,
) -> None:
    code, output = invoke("--symbols", "layer3", "--days", "7", "--datasets", "bars_1min,news")
    assert code == 0, output
    sessions = calendar.sessions(AS_OF - dt.timedelta(days=6), AS_OF)
    # The estimate is what the provider really received: one paged request per symbol and dataset.
    assert len(polygon.requests) == planned_requests(output) == 4
    assert {r.path.split("/")[4] for r in polygon.requests_to("/v2/aggs/ticker/")} == {"AAPL", "MSFT"}
    assert count("SELECT COUNT(*) FROM bars_1min") == sum(2 * calendar.session_minutes(s) for s in sessions)
    finished = runs()
    # Both datasets over the same sessions, far below the run budgets: one run materializes both.
    assert len(finished) == 1 and finished[0].status == dg.DagsterRunStatus.SUCCESS
    assert {k.path[-1] for k in finished[0].asset_selection or ()} == {"bars_1min", "news"}
    assert "1 run(s)" in output
    request_id = count("SELECT MAX(id) FROM backfill_requests")
    for run in finished:
        assert run.tags["ai_trader/backfill_request"] == str(request_id)
        assert run.tags["ai_trader/layer"] == "3"
        assert run.tags["dagster/asset_partition_range_start"] == f"{sessions[0]}|3"
        assert run.tags["dagster/asset_partition_range_end"] == f"{sessions[-1]}|3"

    # Storage now has it all: nothing is planned, fetched or launched again.
    polygon.requests.clear()
    code, output = invoke("--symbols", "layer3", "--days", "7", "--datasets", "bars_1min,news")
    assert code == 0 and "nothing to fetch" in output
    assert polygon.requests == [] and len(runs()) == 1

    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0 and "latest runs" in status.output
    output = status.output
    assert output.count("ai-trader backfill") == 1 and f"{sessions[0]}|3..{sessions[-1]}|3" in output


def test_a_users_days_is_honoured_past_the_cold_window(polygon: PolygonServer) -> None:
    code, output = invoke("--symbols", "F", "--days", "60", "--datasets", "bars_1day")
    assert code == 0, output
    assert "lie past its 30-day cold window" in output
    sessions = calendar.sessions(AS_OF - dt.timedelta(days=59), AS_OF)
    assert lake_partitions(Lake(str(load_settings().lake_url)), "bars_1day") == [
        (s, 0) for s in sessions
    ]  # older than 30 days too: fetched as asked, into cold storage
    assert count("SELECT COUNT(*) FROM ingestion_coverage WHERE symbol = 'F'") == len(sessions)


def test_an_unreachable_webserver_is_one_line_with_the_fix(polygon: PolygonServer) -> None:
    code, output = invoke("--symbols", "AAPL", "--days", "3", "--webserver", "http://127.0.0.1:9")
    assert code == 1
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach the Dagster webserver at http://127.0.0.1:9")
    assert "unset AI_TRADER_WEBSERVER_URL" in last and "Traceback" not in output
    assert polygon.requests == []
    assert count("SELECT COUNT(*) FROM backfill_requests") == 0  # checked before anything is recorded


def test_a_selection_error_is_one_line(polygon: PolygonServer) -> None:
    code, output = invoke("--symbols", "AAPL,NOPE", "--dry-run")
    assert code == 1
    assert (
        output.strip() == "error: unknown symbol(s) NOPE; add them with 'ai-trader companies import FILE.csv'"
    )
