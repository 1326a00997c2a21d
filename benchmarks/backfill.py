"""Backfill benchmark: promotion latency on the real stack, and a first fill at real layer sizes.

Run from the repository root: .venv/bin/python -m benchmarks.backfill [promotion] [first-fill] [flags]

promotion: the production set-up on this machine: dagster-webserver + dagster-daemon on a PostgreSQL
    instance (the shipped dagster.yaml), a PostgreSQL market database, a local lake and the local
    Polygon server with no rate limit. A layer-1 universe is filled first (its history lands in hot
    and cold), then a plain SQL update promotes 1 symbol to layer 3, then 10 symbols to layer 2. For
    each: the time from the commit until every row the new windows call for is stored (coverage of
    every session of every dataset's cold window, hot rows back to the start of every hot window),
    the runs launched, the provider requests, and each run's fixed cost from Dagster's own events
    (launch -> process started -> first step; last step -> run finished).
first-fill: a generated universe at real layer sizes (10,000 / 2,000 / 500 / 50 symbols, --size-scale)
    with the demo provider, PostgreSQL market database and Dagster instance; the whole retention
    policy of one layer (--layer, default 2) through ``ai-trader backfill`` (runs in-process, one
    after the other): rows, rows/s, runs, wall time and the process's peak RSS (an upper bound of
    every run's), and the projection to the whole policy of every layer.
Both print the same figures for the first release's run shape (runs of 30 sessions, one backfill per
dataset), measured in the same invocation (--baseline, on by default; --no-baseline skips it).
"""

import argparse
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
import yaml
from dagster._core.execution.backfill import BulkActionStatus

from ai_trader_assets import calendar
from ai_trader_assets.config import DEFAULT_CONFIG_DIR, REPO_ROOT, PlatformConfig, load_config
from ai_trader_assets.storage import migrations
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot_window import earliest_hot_sessions
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets_tests.support.dagster_stack import (
    BIN,
    DagsterStack,
    instance_of,
    production_instance_environment,
    wait_for,
)
from ai_trader_assets_tests.support.polygon_server import PolygonServer
from ai_trader_assets_tests.support.postgres import DatabaseFactory, postgres_server

AS_OF = dt.date(2026, 11, 20)
KEY = "benchmark-key"
UNLIMITED = {"requests_per_second": 100_000, "requests_per_minute": 6_000_000, "burst": 100_000}


def bench_config(source: Path, folder: Path) -> Path:
    """A release's shipped configuration (its sensor interval included), with the provider unthrottled."""
    shutil.copytree(source, folder)
    providers = yaml.safe_load((folder / "providers.yaml").read_text())
    providers["providers"]["polygon"]["rate_limit"].update(UNLIMITED)
    (folder / "providers.yaml").write_text(yaml.safe_dump(providers))
    return folder


@contextlib.contextmanager
def release_tree(revision: str) -> Iterator[Path]:
    """An earlier release of this repository, unpacked (``git archive``) for a baseline in the same run.

    Its processes run from that tree (``PYTHONPATH``), with this environment's installed packages.
    """
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", revision],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder)


class Stack:
    """Market database, instance database, lake and Polygon server for the webserver + daemon of one
    release (``code``: the tree it runs from)."""

    def __init__(self, root: Path, factory: DatabaseFactory, server: PolygonServer, code: Path) -> None:
        self.root = root
        self.server = server
        self.code = code
        config_dir = bench_config(code / "config", root / "config")
        market, instance = factory.create(), factory.create()
        home = root / "dagster_home"
        home.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AI_TRADER_", "DAGSTER_", "POLYGON_"))
        }
        self.env = (
            env
            | {
                "AI_TRADER_HOME": str(root / "home"),
                "AI_TRADER_DATABASE_URL": market.render_as_string(hide_password=False),
                "AI_TRADER_LAKE_URL": str(root / "lake"),
                "AI_TRADER_CONFIG_DIR": str(config_dir),
                "AI_TRADER_AS_OF": AS_OF.isoformat(),
                "POLYGON_API_KEY": KEY,
                "POLYGON_BASE_URL": server.url,
                "DAGSTER_HOME": str(home),
            }
            | production_instance_environment(instance)
        )
        if code != REPO_ROOT:
            self.env["PYTHONPATH"] = str(code)
        self.database = MarketDatabase(market)
        migrations.upgrade(self.database)
        # Completeness is judged by this release's windows (retention.yaml is the same in both).
        self.config = load_config(DEFAULT_CONFIG_DIR)

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, cwd=self.code, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def instance(self) -> dg.DagsterInstance:
        return instance_of(self.env)


# ------------------------------------------------------------------ promotion


def stored_completely(stack: Stack, symbols: list[str], layer: int) -> bool:
    """Every session of every dataset's cold window covered, and hot back to each hot window's start."""
    config, ledger = stack.config, Ledger(stack.database)
    latest = calendar.session_on_or_before(AS_OF)
    for dataset in config.layers.layers[layer].datasets:  # type: ignore[index]
        window = config.window(layer, dataset)
        assert window is not None
        sessions = calendar.sessions(config.window_start(window.cold_days, AS_OF), latest)
        if len(ledger.covered(dataset, sessions, symbols)) < len(sessions) * len(symbols):
            return False
        first_hot = calendar.session_on_or_after(config.window_start(window.hot_days, AS_OF))
        earliest = earliest_hot_sessions(stack.database, dataset, symbols)
        covered = ledger.covered_rows(dataset, [first_hot], symbols)
        for symbol in symbols:  # a symbol with rows on the window's first session must have them hot
            if covered.get((first_hot, symbol), 0) and earliest.get(symbol, dt.date.max) > first_hot:
                return False
    return True


def run_phases(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds between a run's milestones, from its own event log (enqueued or launched first)."""
    events = [
        (entry.timestamp, entry.dagster_event.event_type_value)
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None
    ]
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for at, kind in sorted(events):
        first.setdefault(kind, at)
        last[kind] = at
    created = min(at for at, _ in events)  # run created (its planned events)
    launched = first.get("PIPELINE_STARTING", created)  # (Dagster's event names for runs are legacy)
    start = first.get("PIPELINE_START", launched)
    first_step = first.get("STEP_START", start)
    last_step = max(last.get("STEP_SUCCESS", first_step), last.get("STEP_FAILURE", first_step))
    end = first.get("PIPELINE_SUCCESS", first.get("PIPELINE_FAILURE", last_step))
    return {
        "waiting in the run queue": launched - created,
        "launch to process up": start - launched,
        "process up to first step": first_step - start,
        "steps": last_step - first_step,
        "last step to run end": end - last_step,
        "total": end - created,
    }


def print_timeline(instance: dg.DagsterInstance, run_id: str) -> None:
    """A run's events, relative to its first (repeated kinds folded), to see where its time goes."""
    events = sorted(
        (entry.timestamp, entry.dagster_event.event_type_value, entry.message or "")
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None
    )
    start, previous = events[0][0], ""
    for at, kind, message in events:
        if kind != previous:
            print(f"        {at - start:7.2f} {kind:<32} {message[:90]}")
        previous = kind


def promote(stack: Stack, symbols: list[str], layer: int, column: str) -> dict[str, Any]:
    """Promote by plain SQL; wait until the new windows are stored; what it took."""
    with stack.instance() as instance:
        before = {b.backfill_id for b in instance.get_backfills()}
    requests_before = len(stack.server.requests)
    if column not in ("layer2_qualified", "layer3_qualified"):
        raise ValueError(f"not a qualification column: {column}")
    update = sa.text(f"UPDATE companies SET {column} = true WHERE symbol IN :symbols").bindparams(
        sa.bindparam("symbols", expanding=True)
    )
    started = time.time()
    with stack.database.begin() as conn:
        conn.execute(update, {"symbols": symbols})

    stored_at: list[float] = []

    def finished(instance: dg.DagsterInstance) -> list[str] | None:
        # Stored (every row the new windows call for) is what a user waits for; the backfill is marked
        # completed at the backfill daemon's next iteration after its last run (Dagster's fixed 30 s).
        if not stored_at and stored_completely(stack, symbols, layer):
            stored_at.append(time.time())
        new = [b for b in instance.get_backfills() if b.backfill_id not in before]
        failed = [b for b in new if b.status in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED)]
        if failed:
            raise RuntimeError(f"backfill {failed[0].backfill_id} ended {failed[0].status}")
        if not new or not all(
            b.status in (BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS) for b in new
        ):
            return None
        if not stored_at and not stored_completely(stack, symbols, layer):
            raise RuntimeError(f"the backfills of {symbols} completed without storing every row")
        stored_at.append(time.time())
        return [b.backfill_id for b in new]

    # One instance for the whole wait: a new one per poll costs the machine being measured ~0.1 s of CPU
    # (its PostgreSQL storages connect and check their tables).
    with stack.instance() as instance:
        backfills = wait_for(
            lambda: finished(instance), 3600, f"the promotion of {len(symbols)} symbol(s) to layer {layer}", 1
        )
    elapsed = time.time() - started
    stored = stored_at[0] - started
    with stack.instance() as instance:
        runs = [
            r
            for b in backfills
            for r in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b}))
        ]
        phases = [run_phases(instance, r.run_id) for r in runs]
        if os.environ.get("BENCH_TIMELINE") and runs:
            print_timeline(instance, runs[0].run_id)
        requested = min(instance.get_backfill(b).backfill_timestamp for b in backfills)  # type: ignore[union-attr]
        tick = sensor_tick(instance, "qualification_sensor", requested)
        records = [instance.get_run_record_by_id(r.run_id) for r in runs]
        first_run = min(r.create_timestamp.timestamp() for r in records if r is not None)
        # When each run was created, and what it stores: runs created one daemon loop (30 s) after the
        # first wait for an input another run stores (ticks for 1-minute bars, sentiment for news).
        created = sorted(
            (
                record.create_timestamp.timestamp() - first_run,
                "+".join(sorted(key.path[-1] for key in (run.asset_selection or ()))),
            )
            for run, record in zip(runs, records, strict=True)
            if record is not None
        )
    return {
        "seconds": stored,
        # Where the time went: the sensor seeing the commit, Dagster's backfill daemon creating the
        # runs (its loop sleeps a fixed 30 s), the runs storing every row.
        "split": (requested - started, first_run - requested, stored_at[0] - first_run),
        "completed": elapsed,
        "backfills": len(backfills),
        "runs": len(runs),
        "requests": len(stack.server.requests) - requests_before,
        "phases": phases,
        "created": created,
        # The sensor's tick that requested the backfill: (its start after the commit, its length).
        "tick": None if tick is None else (tick[0] - started, tick[1] - tick[0]),
    }


def finished_ticks(instance: dg.DagsterInstance, name: str, after: float) -> list[tuple[float, float]]:
    """(start, end) of each of the named sensor's ticks that started after ``after`` and finished."""
    for state in instance.all_instigator_state():
        if state.instigator_name == name:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
            return [(tick.timestamp, tick.end_timestamp) for tick in ticks if tick.end_timestamp is not None]
    return []


def sensor_ticked(stack: Stack, name: str, since: float) -> bool:
    """Whether the named sensor has finished a tick since ``since``."""
    with stack.instance() as instance:
        return bool(finished_ticks(instance, name, since))


def sensor_tick(instance: dg.DagsterInstance, name: str, during: float) -> tuple[float, float] | None:
    """(start, end) of the named sensor's tick that was running at ``during``."""
    running = [(s, e) for s, e in finished_ticks(instance, name, during - 120) if s <= during <= e]
    return running[0] if running else None


def promotion_benchmark(factory: DatabaseFactory, root: Path, code: Path) -> list[dict[str, Any]]:
    history = [f"H{i:02d}" for i in range(10)]
    to_layer3, to_layer2 = ["PTHREE"], [f"PTWO{i}" for i in range(10)]
    universe = history + to_layer3 + to_layer2
    with PolygonServer(KEY, market=universe, cache_responses=True) as server:
        stack = Stack(root, factory, server, code)
        CompaniesRepository(stack.database).upsert(
            [{"symbol": s, "layer": 1} for s in universe], source="bench"
        )
        started = time.time()
        stack.run(str(BIN / "ai-trader"), "backfill", "--symbols", "layer1")  # their layer-1 history
        print(
            f"  layer-1 history of {len(universe)} symbols filled in-process in {time.time() - started:.0f} s"
        )
        stack.run(str(BIN / "ai-trader"), "sensor", "skip-history")
        # Neither belongs in a promotion's latency: gap healing would fetch the same sessions, and a
        # new instance's first policy-grid marking (thousands of cells, done long before any promotion
        # in production) would share the two cores with the runs measured.
        for sensor in ("gap_healing_sensor", "policy_grid_sensor"):
            stack.run(str(BIN / "dagster"), "sensor", "stop", sensor, "-w", "workspace.yaml")
        results = []
        with DagsterStack(stack.env, root / "logs", root=code) as processes:
            daemon_started = time.time()
            processes.start_daemon()
            processes.start_webserver()
            # A promotion meets a running daemon in production: not one still loading the code.
            wait_for(
                lambda: sensor_ticked(stack, "qualification_sensor", daemon_started),
                300,
                "the qualification sensor's first tick",
                1,
            )
            for symbols, layer, column in (
                (to_layer3, 3, "layer3_qualified"),
                (to_layer2, 2, "layer2_qualified"),
            ):
                result = promote(stack, symbols, layer, column)
                result["what"] = f"{len(symbols)} symbol(s) to layer {layer}"
                results.append(result)
                print_promotion(result)
        stack.database.dispose()
    return results


def print_promotion(result: dict[str, Any]) -> None:
    print(
        f"  {result['what']:<22} stored in {result['seconds']:7.1f} s (backfill marked completed at "
        f"{result['completed']:5.1f} s)  {result['backfills']} backfill(s), "
        f"{result['runs']} run(s), {result['requests']} provider request(s)"
    )
    sensor, daemon, runs = result["split"]
    print(
        f"      commit -> backfill requested {sensor:5.1f} s (the sensor), -> first run created "
        f"{daemon:5.1f} s (Dagster's backfill daemon), -> stored {runs:5.1f} s (the runs)"
    )
    if result["tick"] is not None:
        wait, length = result["tick"]
        print(f"      the sensor's tick: started {wait:.1f} s after the commit, ran {length:.1f} s")
    created = ", ".join(f"+{offset:.1f} s {assets}" for offset, assets in result["created"])
    print(f"      runs created at: {created}")
    phases = result["phases"]
    if phases:
        for name in phases[0]:
            values = [p[name] for p in phases]
            middle, worst = statistics.median(values), max(values)
            print(f"      per run, {name:<26} median {middle:6.1f} s  max {worst:6.1f} s")


# ----------------------------------------------------------------- first fill

LAYER_SIZES = {0: 10_000, 1: 2_000, 2: 500, 3: 50}


def universe_csv(folder: Path, sizes: dict[int, int]) -> Path:
    """A generated universe: layer L holds sizes[L] symbols named like ``L2S0042``."""
    path = folder / "universe.csv"
    lines = ["symbol,layer"] + [f"L{layer}S{i:04d},{layer}" for layer, n in sizes.items() for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB of the process, stdout) of a command run to its end."""
    started = time.time()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    return time.time() - started, usage.ru_maxrss // 1024, text


def stored_rows(database: MarketDatabase) -> int:
    with database.begin() as conn:
        return int(
            conn.execute(sa.text("SELECT COALESCE(SUM(rows), 0) FROM ingestion_coverage")).scalar_one()
        )


def fill(
    factory: DatabaseFactory, root: Path, code: Path, sizes: dict[int, int], backfill_args: list[str]
) -> dict[str, Any]:
    """``ai-trader backfill`` in-process (no webserver) of one release on a fresh PostgreSQL database."""
    database_url, instance = factory.create(), factory.create()
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_TRADER_", "DAGSTER_", "POLYGON_"))}
    env |= {
        "AI_TRADER_HOME": str(home),
        "AI_TRADER_DATABASE_URL": database_url.render_as_string(hide_password=False),
        "AI_TRADER_AS_OF": AS_OF.isoformat(),
        "AI_TRADER_PROVIDER": "demo",
        "DAGSTER_HOME": str(root / "dagster_home"),
    } | production_instance_environment(instance)
    if code != REPO_ROOT:
        env["PYTHONPATH"] = str(code)
    (root / "dagster_home").mkdir(parents=True)
    shutil.copy(code / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    ai_trader = str(BIN / "ai-trader")
    for command in (["db", "upgrade"], ["companies", "import", str(universe_csv(root, sizes))]):
        subprocess.run([ai_trader, *command], cwd=code, env=env, check=True, capture_output=True)
    seconds, peak, output = timed([ai_trader, "backfill", *backfill_args], env, code)
    database = MarketDatabase(database_url)
    rows = stored_rows(database)
    database.dispose()
    runs = next((line for line in output.splitlines() if line.startswith("running ")), "running ? run(s)")
    return {"seconds": seconds, "peak_mib": peak, "rows": rows, "runs": runs.split()[1]}


def print_fill(label: str, result: dict[str, Any]) -> None:
    print(
        f"  {label:<44} {result['rows']:>12,} rows in {result['seconds']:7.1f} s = "
        f"{result['rows'] / result['seconds']:>9,.0f} rows/s, {result['runs']:>4} run(s), "
        f"peak RSS {result['peak_mib']:,} MiB (the largest run, all in one process)"
    )


def policy_rows(config: PlatformConfig, sizes: dict[int, int]) -> dict[int, float]:
    """Estimated rows of each layer's whole retention policy (symbols x sessions x rows per pair)."""
    latest = calendar.session_on_or_before(AS_OF)
    rows = {}
    for layer, symbols in sizes.items():
        total = 0.0
        for dataset in config.layers.layers[layer].datasets:  # type: ignore[index]
            window = config.window(layer, dataset)
            assert window is not None
            sessions = len(calendar.sessions(config.window_start(window.cold_days, AS_OF), latest))
            total += symbols * sessions * config.pipeline.runs.budget(dataset).rows_per_symbol_session
        rows[layer] = total
    return rows


def first_fill_benchmark(factory: DatabaseFactory, root: Path, args: argparse.Namespace) -> None:
    sizes = {layer: max(1, int(n * args.size_scale)) for layer, n in LAYER_SIZES.items()}
    layer = args.layer
    config = load_config()
    print(
        f"universe: {sizes} symbols per layer; the whole policy of layer {layer}, demo provider, PostgreSQL"
    )
    sample = ["--symbols", f"layer{layer}", "--datasets", "bars_1min", "--days", str(args.sample_days)]
    if args.baseline:
        print(f"sample: layer {layer}'s 1-minute bars for {args.sample_days} days, both releases")
        with release_tree(args.baseline) as old:
            print_fill(
                f"first release ({args.baseline}), runs of 30 sessions",
                fill(factory, root / "old", old, sizes, sample),
            )
        print_fill(
            "this release, runs sized by rows", fill(factory, root / "new-sample", REPO_ROOT, sizes, sample)
        )
    result = fill(factory, root / "new", REPO_ROOT, sizes, ["--symbols", f"layer{layer}"])
    print_fill(f"this release, layer {layer}'s whole policy", result)
    rate = result["rows"] / result["seconds"]
    estimate = policy_rows(config, sizes)
    basis = "estimated rows: symbols x sessions x runs.rows_per_symbol_session"
    print(f"projection at {rate:,.0f} rows/s ({basis}):")
    for each, rows in sorted(estimate.items()):
        print(f"  layer {each}: {rows:>14,.0f} rows  {rows / rate / 60:8.1f} min")
    total = sum(estimate.values())
    print(f"  every layer: {total:>12,.0f} rows  {total / rate / 3600:8.1f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["promotion", "first-fill"])
    parser.add_argument("--baseline", default="caab6a7", help="revision of the first release ('' skips it)")
    parser.add_argument("--layer", type=int, default=2, help="first fill: the layer whose policy is filled")
    parser.add_argument("--size-scale", type=float, default=1.0, help="first fill: scale the layer sizes")
    parser.add_argument("--sample-days", type=int, default=45, help="first fill: the baseline sample")
    args = parser.parse_args()
    with postgres_server() as admin_url, tempfile.TemporaryDirectory() as scratch:
        factory = DatabaseFactory(admin_url)
        try:
            if "promotion" in args.parts:
                print(
                    "promotion latency (webserver + daemon, PostgreSQL, local Polygon server, no rate limit)"
                )
                promotion_benchmark(factory, Path(scratch) / "new", REPO_ROOT)
                if args.baseline:
                    print(f"the first release ({args.baseline}: runs of 30 sessions), same machine, same run")
                    with release_tree(args.baseline) as old:
                        promotion_benchmark(factory, Path(scratch) / "old", old)
            if "first-fill" in args.parts:
                print("first fill")
                first_fill_benchmark(factory, Path(scratch) / "fill", args)
        finally:
            factory.drop_all()


if __name__ == "__main__":
    main()
