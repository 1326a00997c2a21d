"""``backfill_requests``: what a sensor- or CLI-launched backfill must fetch (run tags carry the id)."""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from ai_trader_assets.storage import schema
from ai_trader_assets.storage.database import MarketDatabase

table = schema.backfill_requests


class UnknownBackfillRequestError(LookupError):
    """A run names a backfill request that does not exist."""


@dataclasses.dataclass(frozen=True)
class BackfillRequest:
    id: int
    layer: int
    symbols: tuple[str, ...]
    datasets: tuple[str, ...]
    start_date: dt.date
    end_date: dt.date
    reason: str


def create(
    database: MarketDatabase,
    *,
    layer: int,
    symbols: Sequence[str],
    datasets: Sequence[str],
    start_date: dt.date,
    end_date: dt.date,
    reason: str,
) -> BackfillRequest:
    with database.begin() as conn:
        new_id: int = conn.execute(
            table.insert()
            .values(
                layer=layer,
                symbols=sorted(symbols),
                datasets=list(datasets),
                start_date=start_date,
                end_date=end_date,
                reason=reason,
                created_at=dt.datetime.now(tz=dt.UTC),
            )
            .returning(table.c.id)
        ).scalar_one()
    return get(database, int(new_id))


def get(database: MarketDatabase, request_id: int) -> BackfillRequest:
    with database.begin() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == request_id)).mappings().first()
    if row is None:
        raise UnknownBackfillRequestError(f"backfill request {request_id} does not exist")
    return BackfillRequest(
        id=row["id"],
        layer=row["layer"],
        symbols=tuple(row["symbols"]),
        datasets=tuple(row["datasets"]),
        start_date=row["start_date"],
        end_date=row["end_date"],
        reason=row["reason"],
    )
