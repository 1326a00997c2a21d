"""The real ``dagster-webserver`` and ``dagster-daemon`` as subprocesses of a test, driven through GraphQL.

Each process starts in a session of its own, so stopping its process group also stops the code
servers and run workers it spawned: nothing outlives the test. Their output goes to log files the
test can keep as artifacts when it fails.
"""

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import dagster as dg
import requests
from sqlalchemy.engine import URL

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets_tests.support.net import free_port

BIN = Path(sys.executable).parent
# Variables of the developer's shell that would point the stack at a real database, instance or key.
FOREIGN_PREFIXES = ("AI_TRADER_", "DAGSTER_", "POLYGON_", "MASSIVE_", "AWS_")
FAILED_BACKFILL = {"FAILED", "FAILING", "CANCELED", "CANCELING", "COMPLETED_FAILED"}
DONE_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS"}

T = TypeVar("T")

LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
AUTOMATION = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes {
    sensors { name sensorState { id status } }
    schedules { name scheduleState { id status } }
} } } }
"""
STOP_SENSOR = "mutation($id: String) { stopSensor(id: $id) { __typename ... on PythonError { message } } }"
STOP_SCHEDULE = """
mutation($id: String) { stopRunningSchedule(id: $id) { __typename ... on PythonError { message } } }
"""
BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status partitionNames assetSelection { path } runs { id status } }
    ... on PythonError { message }
} }
"""


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def production_instance_environment(instance_url: URL) -> dict[str, str]:
    """What the shipped dagster.yaml reads for an instance in this PostgreSQL database, with the event
    settings every deployment file sets."""
    return {
        "DAGSTER_PG_HOST": instance_url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(instance_url.port or 5432),
        "DAGSTER_PG_USER": instance_url.username or "postgres",
        "DAGSTER_PG_PASSWORD": instance_url.password or "",
        "DAGSTER_PG_DB": instance_url.database or "",
        "DAGSTER_EVENT_BATCH_SIZE": "1000",  # as docker-compose.yml and the Helm values set them
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    }


def instance_of(env: Mapping[str, str]) -> dg.DagsterInstance:
    """The Dagster instance a stack's processes use (``env``'s DAGSTER_HOME), opened here."""
    # dagster.yaml resolves DAGSTER_PG_* when the instance is created; give it the stack's values.
    saved = {k: os.environ.get(k) for k in env if k.startswith("DAGSTER_PG_")}
    os.environ.update({k: env[k] for k in saved})
    try:
        return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def embedded_environment(root: Path, *, config_dir: Path, as_of: dt.date) -> dict[str, str]:
    """The environment of the product's embedded default, rooted in ``root``.

    SQLite market database, local lake and the demo provider under ``root/home``; a SQLite Dagster
    instance under ``root/dagster_home`` configured by the shipped ``dagster.embedded.yaml``.
    """
    dagster_home = root / "dagster_home"
    dagster_home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "dagster.embedded.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    return env | {
        "AI_TRADER_HOME": str(root / "home"),
        "AI_TRADER_CONFIG_DIR": str(config_dir),
        "AI_TRADER_AS_OF": as_of.isoformat(),
        "DAGSTER_HOME": str(dagster_home),
    }


class DagsterStack:
    """``dagster-webserver`` (and, once started, ``dagster-daemon``) on ``workspace.yaml``.

    Args:
        env: The processes' whole environment (see :func:`embedded_environment`).
        logs: Folder for ``webserver.log`` and ``daemon.log``.
        root: The project folder the processes run in (its ``workspace.yaml``); this repository's by
            default (a benchmark points it at an earlier release's tree).
    """

    def __init__(self, env: Mapping[str, str], logs: Path, root: Path = REPO_ROOT) -> None:
        self.env = dict(env)
        self.logs = logs
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._processes: list[subprocess.Popen[bytes]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self._processes.append(
                subprocess.Popen(
                    command,
                    cwd=self.root,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def start_webserver(self, timeout: float = 120) -> None:
        """Start the webserver and return once it serves the loaded code location."""
        self._spawn(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
        )
        wait_for(self._location_loaded, timeout, f"the webserver on {self.url} (see {self.logs})")

    def start_daemon(self) -> None:
        """Start the daemon (sensors, schedules, backfills, the run queue)."""
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"])

    def stop_daemon(self) -> None:
        """Stop the daemon and everything it spawned, as a crash or a stopped container would."""
        for process in self._processes:
            if "dagster-daemon" in str(process.args):
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=20)

    def _location_loaded(self) -> bool:
        for process in self._processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args!r} exited with {process.returncode}; see {self.logs}")
        try:
            workspace = self.graphql(LOCATIONS)["workspaceOrError"]
        except requests.RequestException:
            return False  # not listening yet
        entries = workspace.get("locationEntries", [])
        if not entries or any(e["loadStatus"] != "LOADED" for e in entries):
            return False
        for entry in entries:
            # A location that failed to load would leave an empty UI: stop here, with Python's message.
            loaded = entry["locationOrLoadError"]
            assert loaded["__typename"] == "RepositoryLocation", (entry["name"], loaded)
        return True

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a GraphQL request; a response with ``errors`` fails the test."""
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=60
        )
        response.raise_for_status()
        payload: dict[str, Any] = response.json()
        assert not payload.get("errors"), payload["errors"]
        data: dict[str, Any] = payload["data"]
        return data

    def stop_automation(self, keep: tuple[str, ...] = ()) -> list[str]:
        """Stop every running sensor and schedule but ``keep`` (as a user would in the UI); returns
        their names."""
        stopped = []
        for repository in self.graphql(AUTOMATION)["repositoriesOrError"]["nodes"]:
            targets = [(s["name"], s["sensorState"], STOP_SENSOR) for s in repository["sensors"]]
            targets += [(s["name"], s["scheduleState"], STOP_SCHEDULE) for s in repository["schedules"]]
            for name, state, mutation in targets:
                if state["status"] == "RUNNING" and name not in keep:
                    result = next(iter(self.graphql(mutation, {"id": state["id"]}).values()))
                    assert result["__typename"] != "PythonError", (name, result)
                    stopped.append(name)
        return stopped

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        """The backfill's status, partitions, asset selection and runs."""
        result: dict[str, Any] = self.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert result["__typename"] == "PartitionBackfill", result
        return result

    def wait_backfill(self, backfill_id: str, timeout: float = 240) -> dict[str, Any]:
        """Wait until the backfill completes; fail at once when it fails or is canceled."""

        def done() -> dict[str, Any] | None:
            backfill = self.backfill(backfill_id)
            assert backfill["status"] not in FAILED_BACKFILL, (backfill, self.log_tail("daemon"))
            return backfill if backfill["status"] in DONE_BACKFILL else None

        return wait_for(done, timeout, f"backfill {backfill_id}", interval=2)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def close(self) -> None:
        """Stop every process group: politely first, then for good."""
        for process in self._processes:
            _signal_group(process, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=20)
            # The leader is gone; its code servers and run workers may not be.
            _signal_group(process, signal.SIGKILL)
        self._processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(process.pid, sig)
