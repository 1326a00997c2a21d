"""The flat-file provider: bars of whole sessions from Massive's per-session objects, in the bars'
schema with ``source`` = ``massive_flatfiles``. Daily bars come from the day files; 1-minute bars
from the minute files, and 5-minute and hourly bars are built from those the way the read side
builds longer bars (:mod:`ai_trader_assets.datasets.resample`). Each session is one object, read
once for every symbol asked; news, corporate actions and trades are not served here."""

import datetime as dt
import time
from collections.abc import Sequence

import pandas as pd
import polars as pl

from ai_trader_assets import calendar
from ai_trader_assets.config import FLATFILE_KINDS
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.datasets.bars import BAR_COLUMNS, BAR_LENGTHS
from ai_trader_assets.datasets.frames import conform, empty_frame
from ai_trader_assets.datasets.resample import bars_from_bars
from ai_trader_assets.datasets.validation import EMPTY_REJECTS
from ai_trader_assets.providers.base import NotServedError, ProviderCall, ProviderResult
from ai_trader_assets.providers.massive_flatfiles.objects import FlatFileBucket, object_key
from ai_trader_assets.providers.massive_flatfiles.parse import SOURCE, bars_frame, read_aggregates


class MassiveFlatFilesProvider:
    """Bars from Massive's flat files (one object per session for the whole market)."""

    name = SOURCE
    grouped_daily = True  # one object holds every symbol's session

    def __init__(self, bucket: FlatFileBucket) -> None:
        self._bucket = bucket

    def __repr__(self) -> str:
        return f"MassiveFlatFilesProvider({self._bucket!r})"

    def object_sizes(self, dataset: Dataset, sessions: Sequence[dt.date]) -> dict[dt.date, int]:
        return self._bucket.sizes(FLATFILE_KINDS[dataset], sessions)

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        return self.session_bars(Dataset.BARS_1DAY, session, symbols)

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        results = [self.session_bars(dataset, s, symbols, since) for s in calendar.sessions(start, end)]
        frames = [r.frame for r in results if len(r.frame)]
        rejects = [r.rejects for r in results if len(r.rejects)]
        return ProviderResult(
            frame=pd.concat(frames, ignore_index=True) if frames else empty_frame(BAR_COLUMNS),
            rejects=pd.concat(rejects, ignore_index=True) if rejects else EMPTY_REJECTS,
            calls=tuple(c for r in results for c in r.calls),
        )

    def session_bars(
        self, dataset: Dataset, session: dt.date, symbols: Sequence[str], since: dt.datetime | None = None
    ) -> ProviderResult:
        """One session's bars of ``symbols`` from its object.

        Raises:
            MissingObjectError: the session's object is not published (REST serves it instead).
            CorruptObjectError: the object cannot be read; nothing of the session is returned.
        """
        kind = FLATFILE_KINDS[dataset]
        key = object_key(kind, session)
        where = self._bucket.where(key)
        started = time.perf_counter()
        table = self._bucket.read(kind, key, lambda body: read_aggregates(body, symbols, where))
        frame, rejects = bars_frame(table, session, dataset == Dataset.BARS_1DAY, where)
        if dataset in (Dataset.BARS_5MIN, Dataset.BARS_1HOUR) and len(frame):
            frame = _resampled(frame, session, int(BAR_LENGTHS[dataset].total_seconds()))
        if since is not None:
            frame = frame[frame["ts"] >= pd.Timestamp(since)].reset_index(drop=True)
        call = ProviderCall(
            endpoint=f"s3 {kind}",
            status=200,
            latency_ms=(time.perf_counter() - started) * 1000,
            rows=len(frame),
            provider=SOURCE,
        )
        return ProviderResult(frame, rejects, (call,))

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        raise NotServedError("massive_flatfiles serves bars only, not news")

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        raise NotServedError("massive_flatfiles serves bars only, not corporate actions")

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        raise NotServedError("massive_flatfiles does not serve trades yet")


def _resampled(minutes: pd.DataFrame, session: dt.date, seconds: int) -> pd.DataFrame:
    built = bars_from_bars(pl.from_pandas(minutes).with_columns(session=pl.lit(session)), seconds)
    frame = built.drop("session").to_pandas(use_pyarrow_extension_array=False)
    frame["ts"] = frame["ts"].astype(BAR_COLUMNS["ts"])
    return conform(frame.assign(ingested_at=minutes["ingested_at"].iloc[0]), BAR_COLUMNS)
