"""Gap healing, no Dagster: sessions inside a layer's hot window that current members still lack.

A session is due once the next one has started (today's may still be trading). Gaps are the
(dataset, session, symbol) triples of the calendar with no recorded fetch, and those fetched (with
rows) that hot storage lacks because the symbol's hot window grew after they were stored (they sit
before its earliest hot row; the backfill copies them from cold, with no provider request). They are
grouped per layer into targeted backfill requests, at most ``gap_healing_max_partitions_per_tick``
partitions a tick.
"""

import dataclasses
import datetime as dt
import itertools
from collections import defaultdict

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import LAYERS
from ai_trader_assets.datasets.partitions import partition_key
from ai_trader_assets.storage.coverage import window_coverage
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot_window import earliest_hot_sessions


@dataclasses.dataclass(frozen=True)
class LayerGaps:
    layer: int
    symbols: tuple[str, ...]
    keys_by_dataset: dict[str, list[str]]  # partition keys to heal, per dataset

    @property
    def partitions(self) -> int:
        return sum(len(keys) for keys in self.keys_by_dataset.values())


def find_gaps(
    database: MarketDatabase, config: PlatformConfig, today: dt.date, skip: set[str], limit: int
) -> list[LayerGaps]:
    """Per layer, the partitions (``dataset|key`` not in ``skip``) whose members lack data."""
    latest = calendar.session_on_or_before(today)
    due = calendar.previous_session(latest)
    found: list[LayerGaps] = []
    budget = limit
    hot = window_coverage(
        database, config, today, window="hot", last=due, layers=sorted(LAYERS, reverse=True)
    )
    for layer, windows in itertools.groupby(hot, key=lambda w: w.layer):  # higher layers first
        keys: dict[str, list[str]] = defaultdict(list)
        symbols: set[str] = set()
        for coverage in windows:
            members, dataset, covered = coverage.members, coverage.dataset, coverage.covered
            earliest = earliest_hot_sessions(database, dataset, members) if members else {}
            for session in coverage.sessions:
                key = partition_key(session, layer)
                missing = [
                    m
                    for m in members
                    if (session, m) not in covered
                    or (covered[(session, m)] > 0 and session < earliest.get(m, dt.date.max))
                ]
                if missing and f"{dataset.value}|{key}" not in skip and budget > 0:
                    keys[dataset.value].append(key)
                    symbols.update(missing)
                    budget -= 1
        if keys:
            found.append(LayerGaps(layer, tuple(sorted(symbols)), dict(keys)))
    return found
