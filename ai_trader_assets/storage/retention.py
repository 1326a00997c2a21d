"""Retention enforcement, no Dagster: hot rows past their symbol's hot window move to cold (deleted
from hot only once the cold copy is verified from the Delta table by row count and key checksum),
cold rows past the cold window are purged with predicate deletes, and when a symbol's hot window has
grown (a promotion, a longer ``hot_days``) the rows cold holds for the sessions it now covers are
copied into hot storage (:mod:`ai_trader_assets.storage.hot_window`).

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
import polars as pl
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig, RetentionWindow
from ai_trader_assets.datasets import INGESTED_DATASETS, LAYERS, SPECS, Dataset
from ai_trader_assets.datasets.registry import key_checksum, sessions_of, symbols_of, to_date
from ai_trader_assets.storage import schema
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.hot import HotStore
from ai_trader_assets.storage.hot_window import copy_to_hot, ranges_to_warm
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake.commits import Commit, in_list, literal
from ai_trader_assets.storage.lake.layout import LAYOUTS
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.social import SocialStore

NO_WINDOW = RetentionWindow(hot_days=0, cold_days=0)
IDS_PER_DELETE = 5_000  # news purges delete by article id, in commits of this many


@dataclasses.dataclass
class RetentionCounts:
    moved: int = 0  # hot rows copied to cold because cold lacked them
    verified: int = 0  # hot rows whose cold copy was verified
    deleted: int = 0  # hot rows deleted (verified, or past every window)
    kept: int = 0  # hot rows examined and still inside their hot window
    unverified: int = 0  # hot rows left in place because the cold copy did not verify
    purged: int = 0  # cold rows past their cold window
    warmed: int = 0  # cold rows copied into hot because the symbol's hot window grew


class RetentionEngine:
    """Both retention passes; ``run_id`` is recorded with the lake commits it makes."""

    def __init__(
        self,
        database: MarketDatabase,
        lake: Lake,
        config: PlatformConfig,
        today: dt.date,
        run_id: str = "retention",
    ) -> None:
        self.database = database
        self.tables = lake_tables(lake, config, database)
        self.lake = lake
        self.run_id = run_id
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
        if dataset != Dataset.NEWS:  # one symbol per row: its window once per symbol
            names = symbols_of(dataset, frame).astype(object)
            windows = {s: self.window(dataset, s) for s in names.unique()}
            found = [windows[s] for s in names]
            return (
                [layer for layer, _ in found],
                np.array([w.hot_days for _, w in found], dtype="int64"),
                np.array([w.cold_days for _, w in found], dtype="int64"),
            )
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
            self._warm_pass(dataset, dry_run, counts)
            self._hot_pass(dataset, dry_run, counts)
            self._cold_pass(dataset, dry_run, counts)
            if dataset == Dataset.SOCIAL_SENTIMENT:
                self._prune_social_items(dry_run, counts)
            if on_done:
                on_done(dataset)
        return dict(counts)

    def _prune_social_items(self, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]) -> None:
        """Raw social items are kept as long as the longest sentiment window: a backfill inside it
        recomputes sentiment from them (Reddit's listings no longer reach that far back)."""
        windows = [w for layer in LAYERS if (w := self.config.window(layer, Dataset.SOCIAL_SENTIMENT))]
        if not windows:
            return
        first_kept = calendar.session_on_or_after(
            self.today - dt.timedelta(days=max(w.cold_days for w in windows) - 1)
        )
        # The first kept session's items start after the previous close.
        _, before = calendar.session_open_close(calendar.previous_session(first_kept))
        store = SocialStore(self.database)
        found = store.older_than(before) if dry_run else store.prune(before)
        counts[("social_posts", "all")].purged += found

    def _min_days(self, dataset: Dataset, attribute: str) -> int:
        windows = [self.config.window(layer, dataset) for layer in LAYERS]
        return min(getattr(w, attribute) for w in windows if w is not None)

    def _warm_pass(
        self, dataset: Dataset, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]
    ) -> None:
        """Hot follows the window: per layer, copy what cold holds for hot-window sessions hot lacks."""
        latest = calendar.session_on_or_before(self.today)
        by_layer: dict[int, dict[str, tuple[dt.date, dt.date]]] = defaultdict(dict)
        for symbol, layer in self.layers.items():
            window = self.config.window(layer, dataset) if layer is not None else None
            if layer is None or window is None or window.hot_days == 0:
                continue
            first = calendar.session_on_or_after(self.today - dt.timedelta(days=window.hot_days - 1))
            if first <= latest:
                by_layer[layer][symbol] = (first, latest)
        for layer, windows in sorted(by_layer.items()):
            ranges = ranges_to_warm(self.database, dataset, windows)
            copied = copy_to_hot(self.database, self.tables, dataset, ranges, dry_run=dry_run)
            counts[(dataset.value, str(layer))].warmed += copied

    def _hot_pass(
        self, dataset: Dataset, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]
    ) -> None:
        # Rows younger than every layer's hot window stay hot whoever owns them: not read at all.
        cutoff = self.today - dt.timedelta(days=self._min_days(dataset, "hot_days") - 1)
        if SPECS[dataset].bulk:  # millions of rows a session: a symbol at a time
            for symbol in self.hot.symbols_before(dataset, cutoff):
                rows = self.hot.read(dataset, symbols=[symbol], end=cutoff)
                self._hot_rows_pass(dataset, rows, dry_run, counts)
            return
        self._hot_rows_pass(dataset, self.hot.read(dataset, end=cutoff), dry_run, counts)

    def _hot_rows_pass(
        self,
        dataset: Dataset,
        rows: pd.DataFrame,
        dry_run: bool,
        counts: dict[tuple[str, str], RetentionCounts],
    ) -> None:
        """Move (verified) and delete these hot rows past their hot window."""
        spec = SPECS[dataset]
        if rows.empty:
            return
        sessions = sessions_of(dataset, rows)
        today = np.datetime64(self.today, "D")
        age = (today - sessions.astype("datetime64[D]")).astype("int64")
        layers, hot_days, cold_days = self._row_windows(dataset, rows)
        labels = [(dataset.value, "none" if layer is None else str(layer)) for layer in layers]
        leaving = age >= hot_days
        expired = age >= cold_days
        for label, stays in zip(labels, ~leaving, strict=True):
            counts[label].kept += int(stays)
        for label, gone in zip(labels, leaving & expired, strict=True):
            counts[label].deleted += int(gone and not dry_run)
        to_delete = [rows[leaving & expired]]
        moving = leaving & ~expired
        if moving.any():
            verified = self._copy_and_verify(
                dataset,
                rows[moving].reset_index(drop=True),
                sessions[moving],
                layers=[layers[i] for i in np.flatnonzero(moving)],
                labels=[labels[i] for i in np.flatnonzero(moving)],
                dry_run=dry_run,
                counts=counts,
            )
            to_delete.append(rows[moving].reset_index(drop=True)[verified])
        deletable = pd.concat(to_delete, ignore_index=True)
        if not dry_run and not deletable.empty:
            with self.database.begin() as conn:
                if spec.bulk:  # whole symbol-sessions leave together: delete them by time range
                    self.hot.delete_sessions(conn, dataset, deletable)
                else:
                    self.hot.delete_keys(conn, dataset, deletable[list(spec.key)])

    def _copy_and_verify(
        self,
        dataset: Dataset,
        moving: pd.DataFrame,
        sessions: np.ndarray,
        *,
        layers: list[int | None],
        labels: list[tuple[str, str]],
        dry_run: bool,
        counts: dict[tuple[str, str], RetentionCounts],
    ) -> np.ndarray:
        """Ensure cold holds these rows (copying what it lacks, in one commit); per row, whether its
        session's cold copy is verified by row count and key checksum."""
        key = list(SPECS[dataset].key)
        present = self._in_cold(dataset, moving, sessions)
        for label, missing in zip(labels, ~present, strict=True):
            counts[label].moved += int(missing)
        if dry_run:
            return np.zeros(len(moving), dtype=bool)
        if not present.all():
            # Rows cold lacks go to their symbol's layer (0 for symbols without one); stored rows win.
            targets = np.array([layer if layer is not None else 0 for layer in layers], dtype=np.int8)
            self.tables.store(
                dataset,
                moving[~present],
                targets[~present],
                Commit("retention", self.run_id),
                prefer="existing",
            )
            present = self._in_cold(dataset, moving, sessions)
        verified = np.zeros(len(moving), dtype=bool)
        for session in np.unique(sessions):
            mine = sessions == session
            found = moving[mine & present]
            verified[mine] = key_checksum(found, key) == key_checksum(moving[mine], key)
        for label, ok in zip(labels, verified, strict=True):
            if ok:
                counts[label].verified += 1
                counts[label].deleted += 1
            else:
                counts[label].unverified += 1
        return verified

    def _in_cold(self, dataset: Dataset, rows: pd.DataFrame, sessions: np.ndarray) -> np.ndarray:
        """Per row, whether the Delta table holds its key (read back from the table itself)."""
        key = list(SPECS[dataset].key)
        days = sorted({to_date(s) for s in np.unique(sessions)})
        symbols = None if dataset == Dataset.NEWS else sorted(set(rows["symbol"]))
        stored = self.tables.read(dataset, sessions=days, symbols=symbols, columns=key).to_pandas()
        stored = stored.astype({c: rows[c].dtype for c in key}).drop_duplicates()
        merged = rows[key].merge(stored, on=key, how="left", indicator=True)
        return (merged["_merge"] == "both").to_numpy()

    def _cold_pass(
        self, dataset: Dataset, dry_run: bool, counts: dict[tuple[str, str], RetentionCounts]
    ) -> None:
        """Purge rows past their cold window: one predicate delete per window length (news: per ids)."""
        youngest_purgeable = self._min_days(dataset, "cold_days")
        last_candidate = self.today - dt.timedelta(days=youngest_purgeable)
        by_symbol = LAYOUTS[dataset].slice_column == "symbol"
        columns = ["symbol", "session"] if by_symbol else ["id", "symbols", "session"]
        found = pl.from_arrow(self.tables.read(dataset, end=last_candidate, columns=columns))
        assert isinstance(found, pl.DataFrame)
        if found.is_empty():
            return
        if by_symbol:  # a symbol's rows of one session expire together: count them, don't list them
            found = found.group_by("symbol", "session").len("rows")
        else:
            found = found.with_columns(pl.lit(1, pl.UInt32).alias("rows"))
        candidates = found.to_pandas().assign(session=found["session"].to_list())  # datetime.date
        age = np.array([(self.today - s).days for s in candidates["session"]], dtype="int64")
        row_layers, _, cold_days = self._row_windows(dataset, candidates)
        expired = age >= cold_days
        if not expired.any():
            return
        for row_layer, gone, rows in zip(row_layers, expired, candidates["rows"], strict=True):
            label = (dataset.value, "none" if row_layer is None else str(row_layer))
            counts[label].purged += int(rows) if gone else 0
        if dry_run:
            return
        commit = Commit("retention", self.run_id)
        if by_symbol:
            gone = candidates[expired]
            thresholds = pd.Series(cold_days[expired], index=gone.index)
            for days, symbols in gone.groupby(thresholds)["symbol"]:
                last = self.today - dt.timedelta(days=int(days))
                predicate = f"session <= {literal(last)} AND {in_list('symbol', symbols)}"
                self.tables.delete(dataset, predicate, commit)
        else:
            ids = sorted(candidates.loc[expired, "id"])
            for start in range(0, len(ids), IDS_PER_DELETE):
                chunk = ", ".join(literal(i) for i in ids[start : start + IDS_PER_DELETE])
                self.tables.delete(
                    dataset, f"session <= {literal(last_candidate)} AND id IN ({chunk})", commit
                )
        self._forget(dataset, candidates, expired)

    def _forget(self, dataset: Dataset, candidates: pd.DataFrame, expired: np.ndarray) -> None:
        """Drop coverage of (session, symbol) pairs left without rows, so a promotion fetches them again."""
        with self.database.begin() as conn:
            for session, here in candidates.groupby("session").groups.items():
                rows = candidates.loc[here]
                mask = expired[candidates.index.get_indexer(here)]
                if not mask.any():
                    continue
                gone = set(symbols_of(dataset, rows[mask]).explode()) - set(
                    symbols_of(dataset, rows[~mask]).explode()
                )
                self.ledger.forget(conn, dataset, session, sorted(str(s) for s in gone))
