"""From qualification events to backfill requests, no Dagster.

Cursor: events are read by id, but ids are allocated when a writer inserts and become visible when
it commits, so a lower id can appear after a higher one was read. The cursor keeps the highest id
consumed plus the ids below it not seen yet ("gaps"), each with when it was first missed; a gap that
shows up later is consumed then, and one still missing after ``event_gap_timeout_seconds`` was
rolled back. Nothing is lost and nothing is handled twice.

Per tick: qualifications and promotions (at most ``max_promotions_per_tick`` symbols; the rest follow
in later ticks) become one backfill request per target layer; demotions and deactivations launch
nothing (retention handles them) unless they would remove more than ``demotion_guard_share`` of a
non-empty layer at once, which stops the sensor until a person releases the guard.
"""

import dataclasses
import datetime as dt
import json
from collections import defaultdict

import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.settings import end_of_day
from ai_trader_assets.storage import backfill_requests, schema
from ai_trader_assets.storage.backfill_requests import BackfillRequest
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase

events_table = schema.qualification_events
READ_LIMIT = 10_000


class DemotionGuardError(RuntimeError):
    """Too much of a layer would be demoted at once (a scanner bug?); a person must release it."""


@dataclasses.dataclass(frozen=True)
class Event:
    id: int
    symbol: str
    from_layer: int | None
    to_layer: int | None
    kind: str


@dataclasses.dataclass
class Cursor:
    high: int = 0
    gaps: dict[int, float] = dataclasses.field(default_factory=dict)  # id -> first missed (epoch s)
    release: int = 0  # last guard release consumed

    def to_json(self) -> str:
        return json.dumps(
            {"high": self.high, "gaps": {str(k): v for k, v in self.gaps.items()}, "release": self.release}
        )

    @classmethod
    def from_json(cls, raw: str | None) -> "Cursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(
            int(data["high"]),
            {int(k): float(v) for k, v in data.get("gaps", {}).items()},
            int(data.get("release", 0)),
        )


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a tick decided: backfill requests to launch (with whether each fills an empty layer)."""

    requests: list[tuple[BackfillRequest, bool]]
    cursor: Cursor
    consumed: int
    deferred: int
    demotions: int


def read_events(database: MarketDatabase, cursor: Cursor) -> list[Event]:
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(events_table)
            .where(sa.or_(events_table.c.id > cursor.high, events_table.c.id.in_(list(cursor.gaps))))
            .order_by(events_table.c.id)
            .limit(READ_LIMIT)
        ).mappings()
        return [Event(r["id"], r["symbol"], r["from_layer"], r["to_layer"], r["kind"]) for r in rows]


def cursor_after_history(database: MarketDatabase) -> Cursor:
    """A cursor past every event recorded so far: they are history, not changes to act on."""
    with database.begin() as conn:
        high: int = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events_table.c.id), 0))).scalar_one()
    return Cursor(high=int(high), release=latest_release(database))


def latest_release(database: MarketDatabase) -> int:
    with database.begin() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(schema.sensor_guard_releases.c.id), 0))
            ).scalar_one()
        )


def release_guard(database: MarketDatabase, released_by: str, note: str) -> int:
    """Let the sensor proceed past its demotion guard once."""
    with database.begin() as conn:
        return int(
            conn.execute(
                schema.sensor_guard_releases.insert()
                .values(released_at=dt.datetime.now(tz=dt.UTC), released_by=released_by, note=note)
                .returning(schema.sensor_guard_releases.c.id)
            ).scalar_one()
        )


class QualificationPlanner:
    def __init__(
        self,
        database: MarketDatabase,
        config: PlatformConfig,
        today: dt.date,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        self.database = database
        self.config = config
        self.today = today
        # The latest partition is the latest session opened by now (default: the end of today).
        self.now = now or end_of_day(today)
        self.companies = CompaniesRepository(database)

    def plan(self, cursor: Cursor, now: float) -> Plan:
        automation = self.config.pipeline.automation
        events = read_events(self.database, cursor)
        filling = self._empty_layers_being_filled(events)
        consumed: list[Event] = []
        promoted: set[str] = set()
        deferred = 0
        for event in events:
            # Filling an empty layer is one layer-wide backfill, so it is never throttled.
            throttled = event.kind in ("qualified", "promoted") and event.to_layer not in filling
            if (
                throttled
                and event.symbol not in promoted
                and len(promoted) >= automation.max_promotions_per_tick
            ):
                deferred = len(events) - len(consumed)
                break  # keep id order: this and everything after it waits for the next tick
            consumed.append(event)
            if throttled:
                promoted.add(event.symbol)
        demotions = [e for e in consumed if e.kind in ("demoted", "deactivated")]
        release = self._check_guard(demotions, cursor)
        new_cursor = self._advance(cursor, consumed, now, release)
        requests = self._requests(consumed, filling)
        return Plan(requests, new_cursor, len(consumed), deferred, len(demotions))

    def _empty_layers_being_filled(self, events: list[Event]) -> set[int]:
        """Layers whose every current member arrives with these events (a first deployment)."""
        arriving: dict[int, set[str]] = defaultdict(set)
        for event in events:
            if event.kind in ("qualified", "promoted") and event.to_layer is not None:
                arriving[event.to_layer].add(event.symbol)
        return {
            layer
            for layer, symbols in arriving.items()
            if (members := set(self.companies.members(layer))) and members <= symbols
        }

    def _check_guard(self, demotions: list[Event], cursor: Cursor) -> int:
        share = self.config.pipeline.automation.demotion_guard_share
        leaving: dict[int, int] = defaultdict(int)
        for event in demotions:
            if event.from_layer is not None:
                leaving[event.from_layer] += 1
        counts = self.companies.layer_counts()
        tripped = []
        for layer, count in sorted(leaving.items()):
            before = counts.get(layer, 0) + count  # members before this tick's demotions
            if before and count / before > share:
                tripped.append(f"layer {layer}: {count} of {before} members ({count / before:.0%})")
        release = latest_release(self.database)
        if tripped and release <= cursor.release:
            raise DemotionGuardError(
                "qualification sensor stopped: more than "
                f"{share:.0%} of a layer would be demoted or deactivated in one tick ({'; '.join(tripped)}). "
                "If this is intended, run 'ai-trader sensor release'; nothing was launched."
            )
        return release if tripped else cursor.release

    def _advance(self, cursor: Cursor, consumed: list[Event], now: float, release: int) -> Cursor:
        timeout = self.config.pipeline.automation.event_gap_timeout_seconds
        seen = {e.id for e in consumed}
        high = max([cursor.high, *seen])
        gaps = {i: t for i, t in cursor.gaps.items() if i not in seen and now - t < timeout}
        for missing in set(range(cursor.high + 1, high)) - seen:
            gaps.setdefault(missing, now)
        return Cursor(high=high, gaps=gaps, release=release)

    def _requests(self, consumed: list[Event], filling: set[int]) -> list[tuple[BackfillRequest, bool]]:
        targets: dict[int, set[str]] = defaultdict(set)
        for event in consumed:
            if event.kind in ("qualified", "promoted") and event.to_layer is not None:
                targets[event.to_layer].add(event.symbol)
        requests = []
        for layer, symbols in sorted(targets.items(), reverse=True):
            members = set(self.companies.members(layer))
            arrived = symbols & members  # a symbol that moved on again is handled by its later event
            if not arrived:
                continue
            fills_empty_layer = layer in filling
            datasets = [d.value for d in self.config.layers.layers[layer].datasets]  # type: ignore[index]
            start = self.start_date(layer)
            request = backfill_requests.create(
                self.database,
                layer=layer,
                symbols=sorted(members if fills_empty_layer else arrived),
                datasets=datasets,
                start_date=start,
                end_date=self.latest_session(),
                reason=("first fill of an empty layer" if fills_empty_layer else "qualified or promoted")
                + f" into layer {layer}",
            )
            requests.append((request, fills_empty_layer))
        return requests

    def latest_session(self) -> dt.date:
        return calendar.latest_opened_session(self.now)

    def start_date(self, layer: int, dataset: Dataset | None = None) -> dt.date:
        """The first session inside the layer's cold window (for one dataset, or the longest)."""
        datasets = [dataset] if dataset else list(self.config.layers.layers[layer].datasets)  # type: ignore[index]
        days = max(w.cold_days for d in datasets if (w := self.config.window(layer, d)) is not None)
        return calendar.session_on_or_after(self.config.window_start(days, self.today))

    def sessions_by_dataset(self, request: BackfillRequest) -> dict[Dataset, list[dt.date]]:
        """Per dataset, the sessions inside that dataset's window for the layer."""
        return {
            Dataset(d): calendar.sessions(self.start_date(request.layer, Dataset(d)), request.end_date)
            for d in request.datasets
        }
