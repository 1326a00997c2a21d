"""``ai-trader bars|news|actions|sql`` on the quickstart's data (the demo universe, a backfill through
Dagster in-process, the demo provider), on PostgreSQL and SQLite."""

import concurrent.futures
import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ai_trader_assets import calendar
from ai_trader_assets.cli import app
from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.storage.database import MarketDatabase

AS_OF = dt.date(2026, 11, 20)
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def quickstart(market_db: MarketDatabase, monkeypatch: pytest.MonkeyPatch) -> MarketDatabase:
    """What the quickstart does first: the demo universe, then the latest sessions backfilled."""
    monkeypatch.setenv("AI_TRADER_DATABASE_URL", market_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AI_TRADER_AS_OF", AS_OF.isoformat())
    code, out, err = run("companies", "import", str(DEFAULT_CONFIG_DIR / "demo_universe.csv"))
    assert code == 0, out + err
    code, out, err = run(
        "backfill", "--symbols", "AAPL,MSFT", "--days", "40", "--datasets", "bars_1day,corporate_actions,news"
    )
    assert code == 0, out + err
    return market_db


def test_bars_adjusted_as_csv_and_sql_counts_work_on_the_quickstarts_data(quickstart: MarketDatabase) -> None:
    code, out, err = run("bars", "AAPL", "--interval", "1day", "--adjust", "all", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    sessions = calendar.sessions(AS_OF - dt.timedelta(days=30), AS_OF)
    assert [r["ts"][:10] for r in rows] == [
        calendar.session_midnight_utc(s).date().isoformat() for s in sessions
    ]
    assert list(rows[0]) == [
        "symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trade_count", "source"
    ]  # fmt: skip
    assert rows[0]["ts"].endswith("Z") and all(r["symbol"] == "AAPL" for r in rows)

    # A table of daily bars shows each bar's session (files keep the contract: ts in UTC).
    code, out, err = run(
        "bars", "AAPL", "--interval", "1day", "--start", str(sessions[-2]), "--end", str(AS_OF)
    )
    assert code == 0, err
    header = next(line for line in out.splitlines() if "symbol" in line).split()
    assert header[:2] == ["symbol", "session"] and "ts" not in header
    assert f"AAPL     {AS_OF}" in out or any(
        line.split()[:2] == ["AAPL", str(AS_OF)] for line in out.splitlines()
    )
    assert "T05:00:00Z" not in out

    # Corporate actions were fetched for the backfilled sessions and the demo had none for AAPL: the
    # answer says so from coverage (the lake may hold no corporate_actions table), and what is left.
    code, out, err = run("actions", "AAPL", "--start", "2020-01-01")
    assert code == 0, err
    fetched = calendar.sessions(AS_OF - dt.timedelta(days=39), AS_OF)
    assert f"no rows: fetched {fetched[0]}..{AS_OF}, nothing to store" in err
    assert "not yet fetched (ai-trader backfill --symbols AAPL --datasets corporate_actions)" in err

    code, out, err = run("sql", "select count(*) as n from bars_1day", "--format", "json")
    assert code == 0, err
    stored = calendar.sessions(AS_OF - dt.timedelta(days=39), AS_OF)
    assert json.loads(out) == [{"n": 2 * len(stored)}]

    code, out, err = run("sql", "select symbol, count(*) as n from bars_1day group by symbol order by symbol")
    assert code == 0, err
    assert "AAPL" in out and "MSFT" in out and str(len(stored)) in out  # the rich table


def test_news_actions_and_files_in_every_format(quickstart: MarketDatabase, tmp_path: Path) -> None:
    code, out, err = run("news", "AAPL", "--start", "2026-10-20", "--format", "json")
    assert code == 0, err
    articles = json.loads(out)
    assert articles and all("AAPL" in a["symbols"].split(";") for a in articles)
    code, _, err = run("actions", "AAPL,MSFT", "--start", "2026-10-12", "--format", "csv")
    assert code == 0, err
    target = tmp_path / "bars.parquet"
    code, _, err = run(
        "bars", "AAPL,MSFT", "--interval", "1day", "--format", "parquet", "--output", str(target)
    )
    assert code == 0 and "wrote" in err
    table = pq.read_table(target)
    assert table.num_rows > 0 and set(table.column("symbol").to_pylist()) == {"AAPL", "MSFT"}


def test_bad_and_empty_requests_are_one_line(quickstart: MarketDatabase) -> None:
    for args, message in [
        (["bars", "ZZZZ", "--interval", "1day"], "unknown symbol ZZZZ"),
        (["bars", "AAPL", "--interval", "2hours"], "unknown interval '2hours'"),
        (["bars", "AAPL", "--interval", "7min"], "must divide an hour"),
        (["bars", "AAPL", "--interval", "1day", "--start", "2026-11-10", "--end", "2026-11-01"], "after end"),
        (["bars", "AAPL", "--interval", "1day", "--end", "2027-01-04"], "in the future"),
        (["sql", "select * from bars_2min"], "unknown dataset bars_2min"),
        (["sql", "selec 1 from bars_1day"], "invalid SQL"),
        (["bars", "AAPL", "--interval", "1day", "--format", "parquet"], "give --output"),
    ]:
        code, _, err = run(*args)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, (args, err)
    code, _, err = run("bars", "AAPL", "--interval", "1day", "--start", "2026-11-07", "--end", "2026-11-08")
    assert code == 0 and "no rows: no NYSE session" in err


# A fresh process runs one command and reports which of Dagster and the vendor SDKs it loaded, then
# exits as the console script does (main(): no interpreter teardown).
COMMAND_IN_A_FRESH_PROCESS = """
import json, os, sys
from ai_trader_assets.cli.main import run
code = run(sys.argv[1:])
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"dagster", "massive", "alpaca"})
print(json.dumps({"code": code, "heavy": loaded}), file=sys.stderr, flush=True)
sys.stdout.flush()
os._exit(code)
"""


@pytest.mark.parametrize("market_db", ["sqlite"], indirect=True)  # the quickstart's embedded default
def test_the_read_commands_load_neither_dagster_nor_a_vendor_sdk(quickstart: MarketDatabase) -> None:
    for args, shown in [
        (["bars", "AAPL", "--interval", "1day", "--format", "csv"], "AAPL,"),
        (["news", "AAPL", "--start", "2026-10-20", "--format", "csv"], "AAPL"),
        (["actions", "AAPL,MSFT", "--start", "2026-01-02", "--format", "csv"], "symbol,ex_date"),
        (["sql", "select count(*) as n from bars_1day", "--format", "csv"], "n\n"),
    ]:
        done = subprocess.run(
            [sys.executable, "-c", COMMAND_IN_A_FRESH_PROCESS, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(done.stderr.strip().splitlines()[-1])
        assert report == {"code": 0, "heavy": []}, (args, done.stderr)
        assert shown in done.stdout, (args, done.stdout)


READS = [
    ["bars", "AAPL", "--interval", "1day", "--format", "csv"],
    ["bars", "MSFT", "--interval", "1day", "--adjust", "all", "--format", "json"],
    ["news", "AAPL", "--start", "2026-10-20", "--format", "csv"],
    ["actions", "AAPL,MSFT", "--start", "2026-01-02", "--format", "csv"],
    ["sql", "select count(*) as n from bars_1day", "--format", "csv"],
]


@pytest.mark.parametrize("market_db", ["sqlite"], indirect=True)
def test_soak_200_reads_and_20_writes_each_process_exits_0(
    quickstart: MarketDatabase, tmp_path: Path
) -> None:
    """deltalake's runtime could abort a finished process at interpreter teardown (exit 134, rarely a
    segfault): every ``ai-trader`` process, reading or writing the lake, must end with its own code."""
    command = str(Path(sys.executable).parent / "ai-trader")

    def once(args: list[str]) -> tuple[list[str], int, str]:
        done = subprocess.run([command, *args], capture_output=True, text=True, check=False, timeout=120)
        return args, done.returncode, done.stderr[-500:]

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # this machine's two cores
        results = list(pool.map(once, [READS[n % len(READS)] for n in range(200)]))
    # Writes in a row: each run stores AAPL's latest daily bar again (a Delta commit) and exits.
    write = ["backfill", "--symbols", "AAPL", "--days", "1", "--datasets", "bars_1day", "--refresh"]
    results += [once(write) for _ in range(20)]
    failed = [(args[0], code, err) for args, code, err in results if code != 0]
    assert not failed, failed[:3]
