"""The Dagster UI in a real browser, on the embedded default (SQLite everything, demo provider).

A few sessions of two layers are materialized first (in-process, on the same instance), and the real
daemon's policy grid sensor marks the cells layer 0's shorter window does not want. Then headless
Chromium (Debian's ``chromium``, driven by Playwright) opens ``bars_1day``'s partitions view served by
the real ``dagster-webserver``, checks that its Missing count is exactly the sessions the policy wants
and lacks (the sensor's own wanted / stored / missing report agrees) and that the grid shows exactly
the seeded and the not-wanted cells as materialized, launches a backfill of a date range of another
layer through the launch dialog, follows the toast to the backfill's page until the real ``dagster-
daemon`` has completed it, finds it in the grid, and checks the bars landed in the market database.
Screenshots are kept as test artifacts (``$AI_TRADER_TEST_ARTIFACTS``, else ``<repo>/test-
artifacts/browser``); a failure also keeps the page's HTML and the webserver and daemon logs there.

Every sensor and schedule but the policy grid sensor is stopped before the daemon starts. Importing
the universe records a qualification event per symbol, so the qualification sensor would launch
first fills of every layer's retention window, and gap healing would fill every hot window: dozens
of runs competing with the backfill under test and materializing the very partitions the test
expects to find missing. The schedules fire at wall-clock times (after the New York close, 03:00 New
York) that a run of this test may straddle. The automation has tests of its own (``test_daemon.py``,
the sensor tests).

Without ``/usr/bin/chromium`` or the ``playwright`` package the test skips, or fails when
``AI_TRADER_REQUIRE_BROWSER=1`` (as in CI), so a missing install never passes unnoticed.
"""

import datetime as dt
import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, REPO_ROOT
from ai_trader_assets.datasets import LAYERS, Dataset
from ai_trader_assets.datasets.bars import BAR_TABLES as bars
from ai_trader_assets.definitions import defs
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets_tests.support.dagster_stack import (
    DagsterStack,
    embedded_environment,
    instance_of,
    wait_for,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Read at import: the suite's autouse fixture hides every AI_TRADER_* variable from the tests.
REQUIRE_BROWSER = os.environ.get("AI_TRADER_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("AI_TRADER_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts" / "browser")

AS_OF = dt.date(2026, 11, 20)
START = dt.date(2026, 10, 26)  # four weeks of sessions: a grid that fits on one screen
UNIVERSE = {"AAPL": 3, "MSFT": 3, "AMD": 2, "PLTR": 2, "ABBV": 1, "ABNB": 1, "AAL": 0, "F": 0}
LAYER0_DAILY_DAYS = (
    14  # layer 0 keeps daily bars this long here: the grid's older layer-0 cells are not wanted
)
NOT_WANTED = {(s, "0") for s in calendar.sessions(START, AS_OF - dt.timedelta(days=LAYER0_DAILY_DAYS))}
SEEDED_LAYERS = ("1", "3")
SEEDED = calendar.sessions(dt.date(2026, 11, 16), AS_OF)  # materialized before the browser opens
UI_LAYER = "2"
UI_SESSIONS = calendar.sessions(dt.date(2026, 11, 9), dt.date(2026, 11, 13))  # backfilled from the UI
ASSET = "bars_1day"
PARTITIONS_VIEW = f"/assets/{ASSET}?view=partitions"
BACKFILL_DONE = re.compile(r"^(Succeeded|Completed|Failed|Canceled)$")  # the UI's terminal labels


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if REQUIRE_BROWSER:
            pytest.fail(f"{reason}; AI_TRADER_REQUIRE_BROWSER=1 forbids skipping it")
        pytest.skip(reason)


def _small_config(folder: Path) -> Path:
    """The shipped config with partitions from START, so the grid and every backfill stay small, and a
    layer-0 daily window shorter than the grid."""
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    pipeline = yaml.safe_load((folder / "pipeline.yaml").read_text())
    pipeline["partitions"]["start_date"] = START
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    retention = yaml.safe_load((folder / "retention.yaml").read_text())
    retention["layers"][0]["bars_1day"] = {"hot_days": 7, "cold_days": LAYER0_DAILY_DAYS}
    (folder / "retention.yaml").write_text(yaml.safe_dump(retention))
    return folder


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("failure-*"):
        stale.unlink()
    return ARTIFACTS


@pytest.fixture
def browser_required() -> None:
    _require_browser()


@pytest.fixture
def stack(browser_required: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterStack]:
    """The webserver and daemon with the automation stopped and SEEDED x SEEDED_LAYERS materialized."""
    env = embedded_environment(tmp_path, config_dir=_small_config(tmp_path / "config"), as_of=AS_OF)
    database = MarketDatabase(load_settings(env).database_url)
    try:
        migrations.upgrade(database)
        CompaniesRepository(database).upsert(
            [{"symbol": s, "layer": layer} for s, layer in UNIVERSE.items()], source="test"
        )
    finally:
        database.dispose()
    # Before the webserver: two processes creating the same SQLite instance at once can collide.
    _seed(env, monkeypatch)
    with DagsterStack(env, tmp_path / "logs") as stack:
        stack.start_webserver()
        stack.stop_automation(keep=("policy_grid_sensor",))
        stack.start_daemon()
        _wait_policy_grid(stack)
        yield stack


@pytest.fixture
def page(stack: DagsterStack) -> Iterator["Page"]:
    """Headless Chromium on the stack's UI (started after the seeding: Dagster's in-process execution
    cannot share the event loop that Playwright's sync API keeps running)."""
    from playwright.sync_api import expect, sync_playwright

    # The UI loads each panel with its own queries; on a busy two-core runner that can take a while.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(base_url=stack.url, viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            # A fresh profile gets the "Join the Dagster community" prompt over whatever page opens first.
            prompt = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
            page.add_locator_handler(prompt, lambda: prompt.get_by_role("button", name="Skip").click())
            yield page
        finally:
            browser.close()


def _seed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Materialize SEEDED for each of SEEDED_LAYERS in-process, one range run per layer, on the stack's
    instance: seconds, where a backfill would wait for the daemon's 30-second backfill iterations."""
    for name, value in env.items():
        if name.startswith(("AI_TRADER_", "DAGSTER_")):
            monkeypatch.setenv(name, value)
    job = defs().resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        for layer in SEEDED_LAYERS:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[dg.AssetKey(ASSET)],
                tags={
                    "dagster/asset_partition_range_start": f"{SEEDED[0]}|{layer}",
                    "dagster/asset_partition_range_end": f"{SEEDED[-1]}|{layer}",
                },
            )
            assert result.success


def test_a_backfill_launched_from_the_partitions_view_completes_and_shows_in_the_grid(
    page: "Page", stack: DagsterStack, artifacts: Path
) -> None:
    seeded = {(s, layer) for s in SEEDED for layer in SEEDED_LAYERS}
    launched = {(s, UI_LAYER) for s in UI_SESSIONS}
    grid = {(s, str(layer)) for s in calendar.sessions(START, AS_OF) for layer in LAYERS}
    wanted = grid - NOT_WANTED
    # The sensor's report (the asset's latest observation) says what the policy wants and lacks.
    assert _reported_missing(stack) == len(wanted - seeded)
    try:
        # Missing is what the policy wants and lacks; the not-wanted cells count as materialized.
        _check_grid(page, seeded | NOT_WANTED, len(wanted - seeded), cell=(SEEDED[-1], SEEDED_LAYERS[-1]))
        page.screenshot(path=artifacts / "1-partitions-before.png", full_page=True)
        backfill_id = _launch_backfill_from_dialog(page, artifacts)
        _wait_backfill_page(page, backfill_id)
        page.screenshot(path=artifacts / "3-backfill-succeeded.png", full_page=True)
        _check_grid(
            page, seeded | launched | NOT_WANTED, len(wanted - seeded - launched), (UI_SESSIONS[0], UI_LAYER)
        )
        page.screenshot(path=artifacts / "4-partitions-after.png", full_page=True)
    except BaseException:
        _keep_failure(page, stack, artifacts)
        raise

    backfill = stack.wait_backfill(backfill_id, timeout=30)  # final already, by the page
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["assetSelection"] == [{"path": [ASSET]}]
    assert sorted(backfill["partitionNames"]) == [f"{s}|{UI_LAYER}" for s in UI_SESSIONS]
    assert backfill["runs"] and all(r["status"] == "SUCCESS" for r in backfill["runs"]), backfill["runs"]
    # The sessions are inside layer 2's hot window: its members' bars are in the market database.
    members = {s for s, layer in UNIVERSE.items() if str(layer) == UI_LAYER}
    assert _stored_daily_bars(stack, UI_SESSIONS) == {(s, d) for s in members for d in UI_SESSIONS}


def _wait_policy_grid(stack: DagsterStack) -> None:
    """Until the daemon's policy grid sensor has marked every not-wanted cell of bars_1day and
    reported the counts."""

    def marked() -> bool:
        with instance_of(stack.env) as instance:
            keys = instance.get_materialized_partitions(dg.AssetKey(ASSET))
        return {f"{s}|{layer}" for s, layer in NOT_WANTED} <= keys and _reported_missing(stack) is not None

    wait_for(marked, 180, "the policy grid sensor's marks", interval=2)


def _reported_missing(stack: DagsterStack) -> int | None:
    """The "sessions missing" of bars_1day's latest observation (the policy grid sensor's report)."""
    with instance_of(stack.env) as instance:
        records = instance.fetch_observations(dg.AssetKey(ASSET), limit=1).records
    if not records or records[0].asset_observation is None:
        return None
    return int(records[0].asset_observation.metadata["sessions missing"].value)  # type: ignore[arg-type]


def _check_grid(
    page: "Page", materialized: set[tuple[dt.date, str]], missing: int, cell: tuple[dt.date, str]
) -> None:
    """The partitions view: both dimensions, the status counts, and exactly these materialized keys."""
    from playwright.sync_api import expect

    page.goto(PARTITIONS_VIEW)
    total = len(calendar.sessions(START, AS_OF)) * len(LAYERS)
    expect(page.get_by_placeholder("Filter by date…")).to_be_visible()
    expect(page.get_by_placeholder("Filter by layer…")).to_be_visible()
    expect(page.get_by_text(f"{total} Partitions Selected", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Materialized ({len(materialized)})", exact=True)).to_be_visible()
    assert missing == total - len(materialized)
    expect(page.get_by_text(f"Missing ({missing})", exact=True)).to_be_visible()
    # Hide the missing partitions: what each dimension still lists is what has been materialized.
    page.locator("label").filter(has_text=re.compile(r"^Missing \(")).click()
    expect(page.get_by_text(f"{len(materialized)} Partitions Selected", exact=True)).to_be_visible()
    sessions = sorted({s.isoformat() for s, _ in materialized})
    dates = page.get_by_title(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    expect(dates).to_have_count(len(sessions))
    assert sorted(_titles(dates)) == sessions
    layers = sorted({layer for _, layer in materialized})
    layer_rows = page.get_by_title(re.compile(r"^[0-9]$"))
    expect(layer_rows).to_have_count(len(layers))
    assert sorted(_titles(layer_rows)) == layers
    # One cell of the grid, picked as a user would (a date, then a layer), shows as materialized.
    dates.filter(has_text=cell[0].isoformat()).click()
    layer_rows.filter(has_text=cell[1]).click()
    expect(page.get_by_title(f"{cell[0].isoformat()}|{cell[1]}", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True)).to_be_visible()


def _titles(rows: "Locator") -> list[str]:
    return [title for row in rows.all() if (title := row.get_attribute("title")) is not None]


def _launch_backfill_from_dialog(page: "Page", artifacts: Path) -> str:
    """Materialize… → a date range and one layer → Launch backfill; returns the id the toast names."""
    from playwright.sync_api import expect

    page.goto(PARTITIONS_VIEW)
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {ASSET}")
    date_range = dialog.get_by_placeholder(re.compile(r"^ex: "))
    date_range.fill(f"[{UI_SESSIONS[0].isoformat()}...{UI_SESSIONS[-1].isoformat()}]")
    date_range.press("Enter")
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_role("menuitem").filter(has=page.get_by_title(UI_LAYER, exact=True)).click()
    dialog.get_by_text(f"Launch runs to materialize {ASSET}").click()  # closes the layer menu
    expect(dialog.get_by_text(f"{len(UI_SESSIONS)} partitions", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "2-launch-dialog.png")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_role("listitem").filter(has_text="Created backfill")
    match = re.search(r"Created backfill (\w+)", toast.inner_text())
    assert match, toast.inner_text()
    toast.get_by_role("link", name="View").click()
    page.wait_for_url(re.compile(rf"/runs/b/{match[1]}$"))
    return match[1]


def _wait_backfill_page(page: "Page", backfill_id: str) -> None:
    """The backfill's page refreshes itself; wait there until its status is final, then require success."""
    from playwright.sync_api import expect

    expect(page.get_by_text(backfill_id, exact=True).first).to_be_visible()
    status = page.get_by_text("Status", exact=True).locator("xpath=following-sibling::*[1]")
    expect(status).to_have_text(BACKFILL_DONE, timeout=240_000)
    assert status.inner_text() == "Succeeded"
    expect(page.get_by_text("100% completed", exact=True)).to_be_visible()


def _keep_failure(page: "Page", stack: DagsterStack, artifacts: Path) -> None:
    """What a person debugging a red CI run needs: both logs, the page as shown and its HTML."""
    for name in ("webserver", "daemon"):
        log = stack.logs / f"{name}.log"
        if log.exists():
            shutil.copy(log, artifacts / f"failure-{name}.log")
    page.screenshot(path=artifacts / "failure-page.png", full_page=True)
    (artifacts / "failure-page.html").write_text(page.content())


def _stored_daily_bars(stack: DagsterStack, sessions: list[dt.date]) -> set[tuple[str, dt.date]]:
    """(symbol, New York session) of the hot daily bars stored for these sessions."""
    database = MarketDatabase(load_settings(stack.env).database_url)
    table = bars[Dataset.BARS_1DAY]
    try:
        with database.begin() as conn:
            rows = conn.execute(sa.select(table.c.symbol, table.c.ts)).all()
    finally:
        database.dispose()
    stored = set()
    for row in rows:
        start: dt.datetime = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=dt.UTC)  # naive on SQLite
        session = start.astimezone(calendar.NEW_YORK).date()
        if session in sessions:
            stored.add((str(row.symbol), session))
    return stored
