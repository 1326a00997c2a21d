"""The ``ai-trader`` command on both engines: migrations, imports, and one-line errors."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ai_trader_assets.cli import app
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.database import MarketDatabase

runner = CliRunner()


@pytest.fixture
def use_database(empty_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch) -> MarketDatabase:
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    return empty_db


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_db_upgrade_then_plain_sql_promotion(use_database: MarketDatabase) -> None:
    code, output = invoke("db", "upgrade")
    assert code == 0, output
    assert f"is at revision {migrations.head_revision()}" in output
    assert "companies" in sa.inspect(use_database.engine).get_table_names()
    with use_database.begin() as conn:
        conn.execute(sa.text("INSERT INTO companies (symbol) VALUES ('X')"))
        conn.execute(sa.text("UPDATE companies SET layer2_qualified = true WHERE symbol = 'X'"))
        rows = conn.execute(
            sa.text("SELECT from_layer, to_layer, kind FROM qualification_events WHERE to_layer = 2")
        ).all()
    assert [tuple(r) for r in rows] == [(0, 2, "promoted")]
    code, output = invoke("db", "current")
    assert code == 0 and "up to date" in output


def test_companies_import_and_set_layer(use_database: MarketDatabase, tmp_path: Path) -> None:
    assert invoke("db", "upgrade")[0] == 0
    csv = tmp_path / "universe.csv"
    csv.write_text("symbol,name,exchange,layer\nAAPL,Apple,XNAS,3\nMSFT,Microsoft,XNAS,1\n")
    code, output = invoke("companies", "import", str(csv))
    assert code == 0 and "2 inserted, 0 updated, 2 layer change(s)" in output
    code, output = invoke("companies", "set-layer", "msft", "2")
    assert code == 0 and "MSFT is now in layer 2" in output
    code, output = invoke("companies", "layers")
    assert code == 0 and "│ 2     │ 1" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("companies", "set-layer", "BAD$", "2"), "invalid symbol 'BAD$'"),
        (("companies", "set-layer", "NOPE", "2"), "NOPE is not in the companies table"),
        (("companies", "set-layer", "AAPL", "five"), "invalid layer 'five'"),
        (("companies", "import", "/no/such/file.csv"), "cannot read"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(
    use_database: MarketDatabase, args: tuple[str, ...], message: str
) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke(*args)
    assert code == 1
    assert message in output and "Traceback" not in output
    assert output.strip().startswith("error:")


def test_an_unmigrated_or_unreachable_database_is_one_line_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, output = invoke("status")  # the embedded default: a SQLite file nobody has migrated yet
    assert code == 1 and "Traceback" not in output
    assert output.strip().endswith("has no schema yet: run 'ai-trader db upgrade'")
    assert len(output.strip().splitlines()) == 1

    monkeypatch.setenv("AI_TRADER_DATABASE_URL", "postgresql://trader:hunter2@127.0.0.1:1/market")
    code, output = invoke("backfill", "--symbols", "layer3", "--dry-run")
    assert code == 1 and "Traceback" not in output and "hunter2" not in output
    assert output.startswith("error: market database postgresql+psycopg://trader:***@127.0.0.1:1/market")
    assert "refused" in output and output.strip().endswith("check AI_TRADER_DATABASE_URL")


def test_a_dagster_instance_missing_its_variables_is_named(
    use_database: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from ai_trader_assets.config import REPO_ROOT

    assert invoke("db", "upgrade")[0] == 0
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")  # production: needs DAGSTER_PG_*
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    code, output = invoke("status")
    assert code == 1 and "Traceback" not in output
    assert output.strip().splitlines()[-1] == (
        f"error: the Dagster instance at {tmp_path} needs DAGSTER_PG_DB, DAGSTER_PG_HOST, "
        "DAGSTER_PG_PASSWORD, DAGSTER_PG_PORT, DAGSTER_PG_USER, which are not set (DAGSTER_HOME/dagster.yaml)"
    )


def test_help_groups_the_commands_into_panels_reading_first() -> None:
    code, output = invoke("--help")
    assert code == 0
    panels: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("╭─"):
            current = panels.setdefault(line.strip("╭╮─ "), [])
        elif line.startswith("│ ") and line[2] not in " -":  # a command's name (not a wrapped line)
            current.append(line.split()[1])
    assert list(panels) == ["Options", "Reading data", "Running the platform", "Setting up", "Quality"]
    assert panels["Reading data"] == ["bars", "ticks", "sentiment", "news", "actions", "sql"]
    assert panels["Running the platform"][:3] == ["status", "backfill", "retention"]
    assert panels["Setting up"] == ["db", "companies", "universe"]
    assert panels["Quality"] == ["reconcile", "health"]


def test_bad_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_TRADER_PROVIDER", "polygon")
    code, output = invoke("db", "current")
    assert code == 1 and "POLYGON_API_KEY" in output


def test_sensor_release_records_a_release(use_database: MarketDatabase) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke("sensor", "release", "--note", "scanner recalibration")
    assert code == 0 and "demotion guard released (release 1)" in output
    with use_database.begin() as conn:
        note: str = conn.execute(sa.text("SELECT note FROM sensor_guard_releases")).scalar_one()
    assert note == "scanner recalibration"


def test_status_and_retention(
    use_database: MarketDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from ai_trader_assets import calendar
    from ai_trader_assets.config import load_config
    from ai_trader_assets.datasets import Dataset
    from ai_trader_assets.ingest import Ingestor, IngestRequest
    from ai_trader_assets.providers.demo import DemoProvider
    from ai_trader_assets.storage.companies import CompaniesRepository
    from ai_trader_assets.storage.lake import Lake
    from ai_trader_assets.storage.ledger import Ledger
    from ai_trader_assets.storage.writer import PartitionWriter, WriteTotals

    session = dt.date(2026, 11, 20)
    monkeypatch.setenv("AI_TRADER_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("AI_TRADER_AS_OF", session.isoformat())
    assert invoke("db", "upgrade")[0] == 0
    CompaniesRepository(use_database).upsert([{"symbol": "AAPL", "layer": 1}], source="test")
    config = load_config()
    results, _ = Ingestor(
        DemoProvider(), CompaniesRepository(use_database), Ledger(use_database), config
    ).run(IngestRequest(Dataset.BARS_1DAY, [(session, 1)], session))
    writer = PartitionWriter(use_database, Lake(str(tmp_path / "lake")), config, session, "test-run")
    writer.write(results, WriteTotals())

    code, output = invoke("status")
    assert code == 0, output
    row = next(line for line in output.splitlines() if "bars_1day" in line and "│ 1 " in line)
    in_window = len(calendar.sessions(session - dt.timedelta(days=364), session))  # layer 1 keeps 365 days
    assert [cell.strip() for cell in row.split("│")[1:7]] == [
        "bars_1day",
        "1",
        "1",
        str(in_window),
        "1",
        str(in_window - 1),
    ]

    monkeypatch.setenv("AI_TRADER_AS_OF", (session + dt.timedelta(days=45)).isoformat())
    code, output = invoke("retention", "--dry-run")
    assert code == 0 and "(dry run)" in output
    code, output = invoke("retention")
    assert code == 0 and "bars_1day" in output
    with use_database.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM bars_1day")).scalar_one() == 0


def test_the_demo_universe_loads_once(use_database: MarketDatabase) -> None:
    from ai_trader_assets.config import REPO_ROOT

    universe = str(REPO_ROOT / "config" / "demo_universe.csv")
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke("companies", "import", universe, "--if-empty")
    assert code == 0 and "264 inserted" in output
    code, output = invoke("companies", "import", universe, "--if-empty")
    assert code == 0 and "import skipped" in output
    with use_database.begin() as conn:
        layers: dict[int, int] = dict(
            conn.execute(sa.text("SELECT layer, COUNT(*) FROM companies GROUP BY layer")).all()
        )
    assert layers[0] > layers[1] > layers[2] > layers[3] > 0  # most in layer 0, fewest in layer 3
