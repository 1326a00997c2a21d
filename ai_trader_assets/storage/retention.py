"""Retention enforcement, no Dagster: hot rows past their symbol's hot window move to cold (deleted
from hot only once the cold copy is verified), and cold rows past the cold window are purged.

A symbol's windows are those of its current layer, except that after a demotion (or deactivation)
the previous layer's larger windows hold for ``demotion_grace_days``. A symbol without a layer keeps
layer 0's windows where layer 0 keeps the dataset, and nothing otherwise.
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets.config import INGESTED_DATASETS, LAYERS, Dataset, PlatformConfig, RetentionWindow
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.cold import ColdStore
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.datasets import SPECS, sessions_of, symbols_of, to_date
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.ledger import Ledger

NO_WINDOW = RetentionWindow(hot_days=0, cold_days=0)


@dataclasses.dataclass
class RetentionCounts:
    moved: int = 0  # hot rows copied to cold because cold lacked them
    verified: int = 0  # hot rows whose cold copy was verified
    deleted: int = 0  # hot rows deleted (verified, or past every window)
    kept: int = 0  # hot rows examined and still inside their hot window
    unverified: int = 0  # hot rows left in place because the cold copy did not verify
    purged: int = 0  # cold rows past their cold window


def key_checksum(frame: pd.DataFrame, key: list[str]) -> tuple[int, int]:
    """(row count, order-independent checksum of the key columns)."""
    if frame.empty:
        return 0, 0
    hashes = pd.util.hash_pandas_object(frame[key].astype(str), index=False).to_numpy(dtype=np.uint64)
    return len(frame), int(hashes.sum(dtype=np.uint64))


class RetentionEngine:
    def __init__(self, database: MarketDatabase, lake: Lake, config: PlatformConfig, today: dt.date) -> None:
        self.database = database
        self.cold = ColdStore(lake)
        self.lake = lake
        self.hot = HotStore(database)
        self.ledger = Ledger(database)
        self.config = config
        self.today = today
        self.layers = self._effective_layers()

    def _effective_layers(self) -> dict[str, int | None]:
        """Current layer per symbol, raised to a pre-demotion layer during the grace period."""
        grace_start = self.today - dt.timedelta(days=self.config.retention.demotion_grace_days)
        events = schema.qualification_events
        with self.database.begin() as conn:
            layers = {
                str(r[0]): r[1]
                for r in conn.execute(sa.select(schema.companies.c.symbol, schema.companies.c.layer))
            }
            recent = conn.execute(
                sa.select(events.c.symbol, sa.func.max(events.c.from_layer))
                .where(events.c.kind.in_(["demoted", "deactivated"]), events.c.occurred_at >= grace_start)
                .group_by(events.c.symbol)
            )
            for row in recent:
                symbol, from_layer = str(row[0]), row[1]
                current = layers.get(symbol)
                if from_layer is not None and (current is None or from_layer > current):
                    layers[symbol] = int(from_layer)
        return layers

    def window(self, dataset: Dataset, symbol: str) -> tuple[int | None, RetentionWindow]:
        layer = self.layers.get(symbol)
        found = self.config.window(layer if layer is not None else 0, dataset)
        if layer is None and found is not None:
            return None, found
        return layer, found or NO_WINDOW

    def _row_windows(
        self, dataset: Dataset, frame: pd.DataFrame
    ) -> tuple[list[int | None], np.ndarray, np.ndarray]:
        """Per row: reporting layer, hot days and cold days (news: the most generous linked symbol)."""
        layers, hot, cold = [], [], []
        for symbols in symbols_of(dataset, frame):
            names = symbols if isinstance(symbols, list | np.ndarray) else [symbols]
            options = [self.window(dataset, s) for s in names] or [(None, NO_WINDOW)]
            layer, best = max(options, key=lambda o: (o[1].cold_days, o[1].hot_days))
            layers.append(layer)
            hot.append(max(w.hot_days for _, w in options))
            cold.append(best.cold_days)
        return layers, np.array(hot, dtype="int64"), np.array(cold, dtype="int64")

    def run(
        self, dry_run: bool = False, on_done: Callable[[Dataset], None] | None = None
    ) -> dict[tuple[str, str], RetentionCounts]:
        """Both passes over every dataset; ``on_done`` is told as each dataset finishes (progress)."""
        counts: dict[tuple[str, str], RetentionCounts] = defaultdict(RetentionCounts)
        for dataset in INGESTED_DATASETS:
            self._hot_pass(dataset, dry_run, counts)
            self._cold_pass(dataset, dry_run, counts)
            if on_done:
                on_done(dataset)
        return dict(counts)

    def _min_days(self, dataset: Dataset, attribute: str) -> int:
        windows = [self.config.window(layer, dataset) for layer in LAYERS]
        return min(getattr(w, attribute) for w in windows if w is not None)

    def _hot_pass(
        self, dataset: Dataset, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]
    ) -> None:
        spec = SPECS[dataset]
        # Rows younger than every layer's hot window stay hot whoever owns them: not read at all.
        cutoff = self.today - dt.timedelta(days=self._min_days(dataset, "hot_days") - 1)
        rows = self.hot.read(dataset, end=cutoff)
        if rows.empty:
            return
        sessions = sessions_of(dataset, rows)
        age = np.array([(self.today - to_date(s)).days for s in sessions], dtype="int64")
        layers, hot_days, cold_days = self._row_windows(dataset, rows)
        labels = [(dataset.value, "none" if layer is None else str(layer)) for layer in layers]
        leaving = age >= hot_days
        expired = age >= cold_days
        for label, stays in zip(labels, ~leaving, strict=True):
            counts[label].kept += int(stays)
        for label, gone in zip(labels, leaving & expired, strict=True):
            counts[label].deleted += int(gone and not dry_run)
        to_delete = [rows[leaving & expired]]
        for session in np.unique(sessions[leaving & ~expired]):
            mask = leaving & ~expired & (sessions == session)
            moving = rows[mask].reset_index(drop=True)
            session_labels = [labels[i] for i in np.flatnonzero(mask)]
            session_layers = [layers[i] for i in np.flatnonzero(mask)]
            verified = self._copy_and_verify(
                dataset,
                to_date(session),
                moving,
                layers=session_layers,
                dry_run=dry_run,
                labels=session_labels,
                counts=counts,
            )
            if verified:
                to_delete.append(moving)
        deletable = pd.concat(to_delete, ignore_index=True)
        if not dry_run and not deletable.empty:
            with self.database.begin() as conn:
                self.hot.delete_keys(conn, dataset, deletable[list(spec.key)])

    def _copy_and_verify(
        self,
        dataset: Dataset,
        session: dt.date,
        moving: pd.DataFrame,
        *,
        layers: list[int | None],
        dry_run: bool,
        labels: list[tuple[str, str]],
        counts: dict[tuple[str, str], RetentionCounts],
    ) -> bool:
        """Ensure cold holds these rows (copying what it lacks); True once verified by count and checksum."""
        key = list(SPECS[dataset].key)
        in_cold = self._cold_rows(dataset, session)
        present = (
            moving.merge(in_cold[key].drop_duplicates(), on=key, how="left", indicator=True)["_merge"]
            == "both"
        )
        for label, missing in zip(labels, ~present.to_numpy(), strict=True):
            counts[label].moved += int(missing)
        if dry_run:
            return False
        # Rows cold lacks go to the partition of their symbol's layer (0 for symbols without one).
        lacking_mask = ~present.to_numpy()
        targets = np.array([layer if layer is not None else 0 for layer in layers])
        for layer in np.unique(targets[lacking_mask]):
            self.cold.merge(dataset, session, int(layer), moving[lacking_mask & (targets == layer)])
        stored = self._cold_rows(dataset, session)
        found = stored.merge(moving[key], on=key, how="inner").drop_duplicates(subset=key)
        verified = key_checksum(found, key) == key_checksum(moving, key)
        for label in labels:
            if verified:
                counts[label].verified += 1
                counts[label].deleted += 1
            else:
                counts[label].unverified += 1
        return verified

    def _cold_rows(self, dataset: Dataset, session: dt.date) -> pd.DataFrame:
        frames = [f for layer in LAYERS if (f := self.cold.read(dataset, session, layer)) is not None]
        return pd.concat(frames, ignore_index=True) if frames else SPECS[dataset].empty()

    def _cold_pass(
        self, dataset: Dataset, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]
    ) -> None:
        youngest_purgeable = self._min_days(dataset, "cold_days")
        for session, layer in self.lake.partitions(dataset):
            age = (self.today - session).days
            if age < youngest_purgeable:
                continue
            stored = self.cold.read(dataset, session, layer)
            if stored is None or stored.empty:
                continue
            row_layers, _, cold_days = self._row_windows(dataset, stored)
            expired = age >= cold_days
            if not expired.any():
                continue
            for row_layer, gone in zip(row_layers, expired, strict=True):
                counts[(dataset.value, "none" if row_layer is None else str(row_layer))].purged += int(gone)
            if dry_run:
                continue
            remaining = stored[~expired]
            self.cold.replace(dataset, session, layer, remaining)
            gone_symbols = set(symbols_of(dataset, stored[expired]).explode()) - set(
                symbols_of(dataset, remaining).explode()
            )
            with self.database.begin() as conn:
                self.ledger.forget(conn, dataset, session, sorted(str(s) for s in gone_symbols))
