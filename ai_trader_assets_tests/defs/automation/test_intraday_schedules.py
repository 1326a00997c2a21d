"""The intraday schedules: due while the session trades (calendar-aware), the first tick at or after the
close completes the session, one refresh per layer at a time, nothing while the clock is pinned."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.defs.automation.intraday import build_refresh_schedule, intraday_definitions
from ai_trader_assets.planning.intraday import refresh_due
from ai_trader_assets.run_tags import INTRADAY_TAG, LAYER_TAG


def new_york(day: str, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), calendar.NEW_YORK)


@pytest.mark.parametrize(
    ("day", "hour", "minute", "every", "due"),
    [
        ("2026-11-20", 9, 30, 5, False),  # the open: no bar has ended yet
        ("2026-11-20", 9, 35, 5, True),
        ("2026-11-20", 15, 55, 5, True),
        ("2026-11-20", 16, 0, 5, True),  # the close: this refresh completes the session
        ("2026-11-20", 16, 5, 5, False),
        ("2026-11-20", 16, 0, 15, True),
        ("2026-11-20", 16, 10, 15, True),  # a 15-minute layer's last tick was 16:00; later ones skip
        ("2026-11-26", 11, 0, 5, False),  # Thanksgiving
        ("2026-11-27", 13, 0, 5, True),  # the early close after it
        ("2026-11-27", 13, 5, 5, False),
        ("2026-11-28", 11, 0, 5, False),  # a Saturday
    ],
)
def test_a_refresh_is_due_while_the_session_trades_and_once_at_its_close(
    day: str, hour: int, minute: int, every: int, due: bool
) -> None:
    session, why_not = refresh_due(new_york(day, hour, minute), every)
    assert (session == dt.date.fromisoformat(day)) if due else (session is None and why_not)


def test_the_layer_schedule_requests_the_open_sessions_partition_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AI_TRADER_AS_OF", raising=False)
    monkeypatch.setenv("AI_TRADER_HOME", str(tmp_path))
    (spec,) = [s for s in load_config().pipeline.intraday if s.layer == 3]
    schedule = build_refresh_schedule(spec)
    assert schedule.cron_schedule == "*/5 9-16 * * 1-5"
    names = {s.name for s in intraday_definitions().schedules or []}  # type: ignore[union-attr]
    assert names == {"intraday_layer_3_schedule", "intraday_layer_2_schedule", "intraday_freshness_schedule"}

    def evaluate(tick: dt.datetime) -> dg.RunRequest | dg.SkipReason:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        return schedule(context)  # type: ignore[return-value]

    with dg.instance_for_test() as instance:
        tick = new_york("2026-11-20", 11, 0)
        request = evaluate(tick)
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == "2026-11-20|3"
        assert request.asset_selection == [
            dg.AssetKey(Dataset.BARS_1MIN.value), dg.AssetKey("bars_5min"), dg.AssetKey("ticks")
        ]  # fmt: skip
        assert request.tags[INTRADAY_TAG] == "3" and request.tags[LAYER_TAG] == "3"

        # The previous refresh of the layer is still running: this tick waits for the next one.
        instance.add_run(
            dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED, tags=request.tags)
        )
        skipped = evaluate(tick)
        assert isinstance(skipped, dg.SkipReason) and "still running" in str(skipped.skip_message)
        closed = evaluate(new_york("2026-11-26", 11, 0))
        assert isinstance(closed, dg.SkipReason) and "not an NYSE session" in str(closed.skip_message)
        monkeypatch.setenv("AI_TRADER_AS_OF", "2026-11-20T11:00")
        pinned = evaluate(tick + dt.timedelta(days=3))
        assert isinstance(pinned, dg.SkipReason) and "AI_TRADER_AS_OF" in str(pinned.skip_message)
