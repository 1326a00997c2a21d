"""Runs sized by data: how a backfill's work is cut into runs.

The work of one dataset is estimated as symbols x sessions x ``rows_per_symbol_session``
(``runs.datasets`` in pipeline.yaml). Each dataset's sessions are cut into the fewest consecutive
chunks of at most ``rows_per_run`` rows; a backfill then has as many *parts* as its largest dataset
needs chunks, part k holding the k-th chunk of every dataset that has one. Each part is launched as
one Dagster backfill; its assets run with ``BackfillPolicy.single_run``, so the part of each dataset is
one run, and datasets whose parts cover the very same sessions share a run (Dagster groups them).
A promotion of a few symbols is therefore one backfill of a handful of runs; a year of 1-minute bars
for a 500-symbol layer is as many parts as its rows need.
"""

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset


@dataclasses.dataclass(frozen=True)
class RunGroup:
    """One run of a backfill part: these datasets over the same sessions."""

    datasets: tuple[Dataset, ...]
    sessions: tuple[dt.date, ...]


def estimated_rows(config: PlatformConfig, dataset: Dataset, symbols: int, sessions: int) -> float:
    return symbols * sessions * config.pipeline.runs.budget(dataset).rows_per_symbol_session


def cut_sessions(
    config: PlatformConfig, dataset: Dataset, symbols: int, sessions: Sequence[dt.date]
) -> list[tuple[dt.date, ...]]:
    """The dataset's sessions in consecutive chunks of at most ``rows_per_run`` estimated rows each."""
    if not sessions:
        return []
    budget = config.pipeline.runs.budget(dataset)
    per_session = max(symbols, 1) * budget.rows_per_symbol_session
    per_run = max(1, math.floor(budget.rows_per_run / per_session))
    ordered = sorted(sessions)
    return [tuple(ordered[i : i + per_run]) for i in range(0, len(ordered), per_run)]


def backfill_parts(
    config: PlatformConfig, symbols: int, sessions_by_dataset: Mapping[Dataset, Sequence[dt.date]]
) -> list[dict[Dataset, tuple[dt.date, ...]]]:
    """The backfills to launch: part k holds the k-th run-sized chunk of every dataset that has one."""
    chunks = {d: cut_sessions(config, d, symbols, s) for d, s in sessions_by_dataset.items() if s}
    parts = max((len(c) for c in chunks.values()), default=0)
    return [{d: c[k] for d, c in chunks.items() if k < len(c)} for k in range(parts)]


def run_groups(part: Mapping[Dataset, Sequence[dt.date]]) -> list[RunGroup]:
    """The runs Dagster makes of one part: datasets with identical sessions share one."""
    grouped: dict[tuple[dt.date, ...], list[Dataset]] = defaultdict(list)
    for dataset, sessions in part.items():
        grouped[tuple(sorted(sessions))].append(dataset)
    return [RunGroup(tuple(datasets), sessions) for sessions, datasets in grouped.items()]


def partition_keys(layer: int, part: Mapping[Dataset, Sequence[dt.date]]) -> dict[str, list[str]]:
    """A part as Dagster partition keys per asset (``2026-11-20|2``)."""
    return {d.value: [f"{s.isoformat()}|{layer}" for s in sorted(sessions)] for d, sessions in part.items()}
