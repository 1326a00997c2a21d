"""Runs sized by data: how a backfill's work is cut into runs.

The work of one dataset is estimated as symbols x sessions x ``rows_per_symbol_session``
(``runs.datasets`` in pipeline.yaml). Each dataset's sessions are cut into the fewest consecutive
chunks of at most ``rows_per_run`` rows; a backfill then has as many *parts* as its largest dataset
needs chunks, part k holding the k-th chunk of every dataset that has one. Each part is launched as
one Dagster backfill; its assets run with ``BackfillPolicy.single_run``, so the part of each dataset is
one run, and datasets whose parts cover the very same sessions share a run (Dagster groups them).
A promotion of a few symbols is therefore one backfill of a handful of runs; a year of 1-minute bars
for a 500-symbol layer is as many parts as its rows need.

A dataset that reads another (ticks the 1-minute bars, sentiment the news) is cut *with* it: the
sessions both need are chunked alike and come first in both, so each such chunk lands in the same part
as its input's and the two share a run, the input stored first. Otherwise Dagster's backfill starts
the reader only once the input's run has finished, at its next loop (30 s later).
"""

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import SPECS, Dataset


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
    return _chunks(sorted(sessions), _sessions_per_run(config, dataset, symbols))


def backfill_parts(
    config: PlatformConfig, symbols: int, sessions_by_dataset: Mapping[Dataset, Sequence[dt.date]]
) -> list[dict[Dataset, tuple[dt.date, ...]]]:
    """The backfills to launch: part k holds the k-th run-sized chunk of every dataset that has one."""
    chunks = {d: cut_sessions(config, d, symbols, s) for d, s in sessions_by_dataset.items() if s}
    cut_together: set[Dataset] = set()
    for dataset in sorted(chunks):
        source = SPECS[dataset].reads
        if source not in chunks or source in cut_together or dataset in cut_together:
            continue  # one reader per input, so that each is cut one way
        pair = _cut_with_input(config, symbols, dataset, source, sessions_by_dataset)
        if pair is not None:
            chunks[dataset], chunks[source] = pair
            cut_together |= {dataset, source}
    parts = max((len(c) for c in chunks.values()), default=0)
    return [{d: c[k] for d, c in chunks.items() if k < len(c)} for k in range(parts)]


def _cut_with_input(
    config: PlatformConfig,
    symbols: int,
    reader: Dataset,
    source: Dataset,
    sessions_by_dataset: Mapping[Dataset, Sequence[dt.date]],
) -> tuple[list[tuple[dt.date, ...]], list[tuple[dt.date, ...]]] | None:
    """Both datasets' chunks, the sessions they share first and chunked alike; None when they share
    none, or when the shared sessions are not one unbroken stretch of both (a chunk is launched as a
    range of partitions, which must not reach into another chunk of the same dataset)."""
    reader_sessions, source_sessions = sessions_by_dataset[reader], sessions_by_dataset[source]
    shared = sorted(set(reader_sessions) & set(source_sessions))
    if not shared:
        return None
    first, last = shared[0], shared[-1]
    if sum(first <= s <= last for s in {*reader_sessions, *source_sessions}) != len(shared):
        return None
    per_run = min(_sessions_per_run(config, d, symbols) for d in (reader, source))
    together = _chunks(shared, per_run)

    def chunks_of(dataset: Dataset, sessions: Sequence[dt.date]) -> list[tuple[dt.date, ...]]:
        per = _sessions_per_run(config, dataset, symbols)
        before = sorted(s for s in sessions if s < first)
        after = sorted(s for s in sessions if s > last)
        return [*together, *_chunks(before, per), *_chunks(after, per)]

    return chunks_of(reader, reader_sessions), chunks_of(source, source_sessions)


def _sessions_per_run(config: PlatformConfig, dataset: Dataset, symbols: int) -> int:
    budget = config.pipeline.runs.budget(dataset)
    per_session = max(symbols, 1) * budget.rows_per_symbol_session
    return max(1, math.floor(budget.rows_per_run / per_session))


def _chunks(ordered: Sequence[dt.date], size: int) -> list[tuple[dt.date, ...]]:
    return [tuple(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def run_groups(part: Mapping[Dataset, Sequence[dt.date]]) -> list[RunGroup]:
    """The runs Dagster makes of one part: datasets with identical sessions share one."""
    grouped: dict[tuple[dt.date, ...], list[Dataset]] = defaultdict(list)
    for dataset, sessions in part.items():
        grouped[tuple(sorted(sessions))].append(dataset)
    return [RunGroup(tuple(datasets), sessions) for sessions, datasets in grouped.items()]


def partition_keys(layer: int, part: Mapping[Dataset, Sequence[dt.date]]) -> dict[str, list[str]]:
    """A part as Dagster partition keys per asset (``2026-11-20|2``)."""
    return {d.value: [f"{s.isoformat()}|{layer}" for s in sorted(sessions)] for d, sessions in part.items()}
