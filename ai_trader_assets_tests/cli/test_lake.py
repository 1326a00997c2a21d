"""``ai-trader lake maintain|history|migrate`` and the lake part of ``ai-trader status``, on both engines."""

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ingest import Ingestor, IngestRequest
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.migration import has_legacy_layout
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals
from ai_trader_assets_tests.storage.lake.test_maintenance import write_first_release_partition
from ai_trader_assets_tests.support.lake import demo_frame

runner = CliRunner()
TODAY = dt.date(2026, 11, 20)
SESSIONS = calendar.sessions(dt.date(2026, 10, 26), TODAY)


@pytest.fixture
def lake(empty_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Lake:
    """A migrated market database with AAPL in layer 1 and a lake under tmp_path."""
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("AI_TRADER_AS_OF", TODAY.isoformat())
    assert invoke("db", "upgrade")[0] == 0
    CompaniesRepository(empty_db).upsert([{"symbol": "AAPL", "layer": 1}], source="test")
    return Lake(str(tmp_path / "lake"))


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def ingest(database: MarketDatabase, lake: Lake, dataset: Dataset, sessions: list[dt.date]) -> None:
    config = load_config()
    ingestor = Ingestor(DemoProvider(), CompaniesRepository(database), Ledger(database), config)
    results, _ = ingestor.run(IngestRequest(dataset, [(s, 1) for s in sessions], TODAY))
    PartitionWriter(database, lake, config, TODAY, "run-cli-test").write(results, WriteTotals())


def line_of(output: str, *words: str) -> list[str]:
    """The cells of the first table row containing every word (boxed, or separated by spaces)."""
    row = next(line for line in output.splitlines() if all(w in line for w in words))
    cells = row.split("│") if "│" in row else re.split(r"\s{2,}", row)
    return [cell.strip() for cell in cells if cell.strip()]


def test_status_reports_each_tables_files_versions_and_sessions(empty_db: MarketDatabase, lake: Lake) -> None:
    ingest(empty_db, lake, Dataset.BARS_5MIN, SESSIONS)
    code, output = invoke("status")
    assert code == 0, output
    row = line_of(output, "bars_5min", "2026-10-26")
    # dataset, hot rows, cold files, MiB, version, versions, oldest, newest, quarantined
    assert row[0] == "bars_5min" and row[4:8] == ["1", "2", "2026-10-26", "2026-11-20"]
    assert int(row[2]) >= 2  # October and November buckets
    assert line_of(output, "news", "-")[2:4] == ["0", "0.0"]  # never written: no table yet


def test_lake_history_lists_versions_with_run_and_partitions(empty_db: MarketDatabase, lake: Lake) -> None:
    ingest(empty_db, lake, Dataset.BARS_1DAY, SESSIONS[:3])
    code, output = invoke("lake", "history", "bars_1day")
    assert code == 0, output
    newest = line_of(output, "WRITE")
    assert newest[0] == "1" and "run-cli-test" in newest and "3 written" in newest
    assert "2026-10-26|1,2026-10-27|1,2026-10-28|1" in output
    code, output = invoke("lake", "history", "nonsense")
    assert code == 1 and "unknown dataset 'nonsense'" in output and "Traceback" not in output
    assert invoke("lake", "history", "news")[1].strip().endswith("has no versions yet")


def test_lake_maintain_reports_before_and_after(empty_db: MarketDatabase, lake: Lake) -> None:
    for session in SESSIONS:  # one run (and commit) per session, as the daily schedule does
        ingest(empty_db, lake, Dataset.BARS_5MIN, [session])
    code, output = invoke("lake", "maintain", "--dry-run")
    assert code == 0 and "(dry run: nothing changed)" in output
    assert line_of(output, "bars_5min")[1:3] == [str(len(SESSIONS))] * 2  # nothing changed
    code, output = invoke("lake", "maintain")
    assert code == 0, output
    row = line_of(output, "bars_5min")
    assert row[1:3] == [str(len(SESSIONS)), str(len(SESSIONS) - 4)] and row[5] == "2026-10"
    assert line_of(output, "news")[-1] == "no table yet"


def test_lake_migrate_converts_an_old_lake_once(empty_db: MarketDatabase, lake: Lake) -> None:
    root = Path(lake.root)
    for session in SESSIONS[:4]:
        frame = demo_frame(Dataset.BARS_1DAY, ["AAPL", "MSFT"], session, session)
        write_first_release_partition(root, Dataset.BARS_1DAY, session, 1, frame)
    code, output = invoke("lake", "migrate", "--dry-run")
    assert code == 0 and line_of(output, "bars_1day")[1:] == ["4", "8", "0", "0"]
    assert has_legacy_layout(lake, Dataset.BARS_1DAY)
    code, output = invoke("lake", "migrate")
    assert code == 0 and line_of(output, "bars_1day")[1:] == ["4", "8", "8", "4"]
    assert not has_legacy_layout(lake, Dataset.BARS_1DAY)
    code, output = invoke("lake", "migrate")
    assert code == 0 and "nothing to migrate" in output
