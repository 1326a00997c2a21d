"""Each dataset declared once and consistently: its frame, hot table, key, lake layout and read order
agree; every record lands in exactly one session; the write path's own checks reject with reasons."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ai_trader_assets import calendar
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import BAR_DATASETS, INGESTED_DATASETS, PLANNED_DATASETS, SPECS, Dataset
from ai_trader_assets.datasets.bars import INTERVALS, bars_in_session
from ai_trader_assets.datasets.frames import conform
from ai_trader_assets.datasets.partitions import parse_partition_key, partition_key
from ai_trader_assets.datasets.registry import check_rows, sessions_of
from ai_trader_assets.providers.demo import DemoProvider

FRIDAY, SATURDAY, MONDAY = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 23)
THANKSGIVING, EARLY_CLOSE = dt.date(2026, 11, 26), dt.date(2026, 11, 27)


def new_york(day: dt.date, hour: int, minute: int = 0) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute), calendar.NEW_YORK)).tz_convert("UTC")


@pytest.mark.parametrize("dataset", list(SPECS))
def test_a_datasets_declarations_agree(dataset: Dataset) -> None:
    spec = SPECS[dataset]
    columns = set(spec.columns)
    assert set(spec.key) | {spec.time_column} | set(spec.read_columns) | set(spec.lake.sort_by) <= columns
    assert set(spec.read_order) <= set(spec.read_columns)
    assert spec.lake.slice_column in columns and set(spec.lake.cluster_by or ()) <= columns
    # The hot table holds the frame's columns (lists live in their own table) and is keyed alike.
    assert [c.name for c in spec.table.columns] == [c for c in spec.columns if c not in spec.list_columns]
    assert tuple(c.name for c in spec.table.primary_key.columns) == spec.key
    assert spec.table.name == dataset.value and spec.dataset == dataset
    assert spec.date_columns <= columns and spec.list_columns <= columns


def test_the_registry_is_what_the_retention_policy_ingests() -> None:
    layers = load_config().layers.layers.values()
    assert set(INGESTED_DATASETS) == {d for layer in layers for d in layer.datasets}
    assert set(PLANNED_DATASETS) == {d for layer in layers for d in layer.planned_datasets}


def test_every_record_lands_in_exactly_one_session() -> None:
    bars = conform(
        pd.DataFrame(
            {
                "symbol": ["AAPL"] * 4,
                # The open, an after-hours bar, a Saturday's (the next session's), the day after a holiday.
                "ts": [
                    new_york(FRIDAY, 9, 30),
                    new_york(FRIDAY, 19),
                    new_york(SATURDAY, 10),
                    new_york(THANKSGIVING, 12),
                ],
                "open": 1.0,
                "high": 1.0,
                "low": 1.0,
                "close": 1.0,
                "volume": 1.0,
                "vwap": 1.0,
                "trade_count": 1,
                "source": "demo",
                "ingested_at": pd.Timestamp("2026-11-30", tz="UTC"),
            }
        ),
        SPECS[Dataset.BARS_1MIN].columns,
    )
    assert sessions_of(Dataset.BARS_1MIN, bars).tolist() == [
        np.datetime64(d, "D") for d in (FRIDAY, FRIDAY, MONDAY, EARLY_CLOSE)
    ]
    # News: the session whose (previous close, close] holds the publication.
    published = [new_york(FRIDAY, 16), new_york(FRIDAY, 16, 1), new_york(SATURDAY, 9), new_york(MONDAY, 8)]
    news = pd.DataFrame({"published_utc": pd.Series(published).dt.as_unit("us")})
    assert sessions_of(Dataset.NEWS, news).tolist() == [
        np.datetime64(d, "D") for d in (FRIDAY, MONDAY, MONDAY, MONDAY)
    ]
    # Corporate actions: the ex-date's session, or the next one.
    actions = pd.DataFrame({"ex_date": [FRIDAY, SATURDAY, THANKSGIVING]})
    assert sessions_of(Dataset.CORPORATE_ACTIONS, actions).tolist() == [
        np.datetime64(d, "D") for d in (FRIDAY, MONDAY, EARLY_CLOSE)
    ]


def test_the_write_paths_checks_reject_with_a_reason_and_keep_the_rest() -> None:
    bars = DemoProvider().bars(["AAPL"], Dataset.BARS_1DAY, dt.date(2026, 11, 16), FRIDAY).frame
    broken = pd.concat([bars, bars.iloc[[0]]], ignore_index=True)  # a duplicate key
    broken.loc[1, "high"] = broken.loc[1, "low"] / 2  # high below low
    valid, rejects = check_rows(Dataset.BARS_1DAY, broken)
    assert len(valid) == len(bars) - 1 and len(rejects) == 2
    assert any("high below" in reason for reason in rejects["reason"])
    assert any("duplicate (symbol, ts)" in reason for reason in rejects["reason"])

    news = DemoProvider().news(["AAPL"], new_york(dt.date(2026, 11, 2), 0), new_york(FRIDAY, 16)).frame
    news = news.assign(symbols=[["AAPL"]] * len(news))
    doubled = pd.concat([news, news.iloc[[0]]], ignore_index=True)
    valid, rejects = check_rows(Dataset.NEWS, doubled)
    assert len(valid) == len(news) and rejects["reason"].tolist() == ["duplicate key ['id']"]


def test_bars_per_session_follow_the_calendar() -> None:
    full = {d: bars_in_session(d, FRIDAY) for d in BAR_DATASETS}
    assert [
        full[d] for d in (Dataset.BARS_1MIN, Dataset.BARS_5MIN, Dataset.BARS_1HOUR, Dataset.BARS_1DAY)
    ] == [
        390,
        78,
        7,  # clock hours: 09:30-10:00 is the first
        1,
    ]
    early = [
        bars_in_session(d, EARLY_CLOSE) for d in (Dataset.BARS_1MIN, Dataset.BARS_5MIN, Dataset.BARS_1HOUR)
    ]
    assert early == [210, 42, 4]
    at_eleven = new_york(FRIDAY, 11).to_pydatetime()
    assert [bars_in_session(d, FRIDAY, at_eleven) for d in (Dataset.BARS_1MIN, Dataset.BARS_1HOUR)] == [90, 2]
    assert {d: i.length for d, i in INTERVALS.items()} == {
        Dataset.BARS_1DAY: None,
        Dataset.BARS_1HOUR: dt.timedelta(hours=1),
        Dataset.BARS_5MIN: dt.timedelta(minutes=5),
        Dataset.BARS_1MIN: dt.timedelta(minutes=1),
    }


def test_partition_keys_are_date_then_layer() -> None:
    assert partition_key(FRIDAY, 2) == "2026-11-20|2"
    assert parse_partition_key("2026-11-20|2") == (FRIDAY, 2)
