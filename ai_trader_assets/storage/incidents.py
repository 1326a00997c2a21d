"""``alert_incidents``: what the alerts have told people, so an incident alerts once however many
processes look at it (sensors run in the daemon's code server; runs, the CLI elsewhere).

One row per incident key (``run_failure:bars_1day:2026-11-20|2``, ``freshness:news:layer_1``...). An
incident is open while ``resolved_at`` is NULL. Opening and resolving are single statements whose
``WHERE`` holds the transition (an upsert that only touches a resolved row; an update of an open one),
so of two processes racing on one key exactly one sees the change and sends the message. A key that
opens again after it was resolved reuses its row (``times_opened`` counts how often).
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import alert_incidents

KEY_LENGTH = alert_incidents.c.key.type.length  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class Incident:
    """One incident as stored (``resolved_at`` None while it is open)."""

    key: str
    kind: str
    severity: str
    title: str
    detail: str
    link: str | None
    labels: Mapping[str, Any]
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    times_opened: int = 1

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


def _incident(row: RowMapping) -> Incident:
    return Incident(
        key=row["key"],
        kind=row["kind"],
        severity=row["severity"],
        title=row["title"],
        detail=row["detail"],
        link=row["link"],
        labels=dict(row["labels"] or {}),
        opened_at=_utc(row["opened_at"]),
        resolved_at=_utc(row["resolved_at"]) if row["resolved_at"] is not None else None,
        times_opened=int(row["times_opened"]),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class IncidentStore:
    """Open, resolve and list incidents in the market database.

    Args:
        database: The market database (migrated to 0013 or later).
    """

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database

    def open(self, incident: Incident) -> bool:
        """Open ``incident`` unless its key is open already.

        Returns:
            True when this call opened it (a new key, or one resolved before): the caller alerts.
            False when it was open: nothing to tell, nothing changed.
        """
        if len(incident.key) > KEY_LENGTH:
            raise ValueError(f"incident key longer than {KEY_LENGTH} characters: {incident.key[:60]}...")
        values = {
            "key": incident.key,
            "kind": incident.kind,
            "severity": incident.severity,
            "title": incident.title,
            "detail": incident.detail,
            "link": incident.link,
            "labels": dict(incident.labels),
            "opened_at": incident.opened_at,
            "resolved_at": None,
            "times_opened": 1,
        }
        table = alert_incidents
        with self.database.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = insert(table).values(values)
            reopened = {
                name: statement.excluded[name] for name in values if name not in ("key", "times_opened")
            }
            upsert = statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={**reopened, "times_opened": table.c.times_opened + 1},
                where=table.c.resolved_at.is_not(None),  # an open incident is left as it is
            ).returning(table.c.key)
            return conn.execute(upsert).first() is not None

    def resolve(self, key: str, at: dt.datetime) -> Incident | None:
        """Resolve the open incident ``key``.

        Returns:
            The incident as it now stands when this call resolved it (the caller tells), else None
            (no such key, or resolved already).
        """
        table = alert_incidents
        with self.database.begin() as conn:
            row = (
                conn.execute(
                    table.update()
                    .where(table.c.key == key, table.c.resolved_at.is_(None))
                    .values(resolved_at=at)
                    .returning(*table.c)
                )
                .mappings()
                .first()
            )
        return _incident(row) if row is not None else None

    def get(self, key: str) -> Incident | None:
        with self.database.begin() as conn:
            row = (
                conn.execute(sa.select(alert_incidents).where(alert_incidents.c.key == key))
                .mappings()
                .first()
            )
        return _incident(row) if row is not None else None

    def open_incidents(self, kind: str | None = None) -> list[Incident]:
        """The open incidents (of one kind), oldest first."""
        table = alert_incidents
        query = sa.select(table).where(table.c.resolved_at.is_(None))
        if kind is not None:
            query = query.where(table.c.kind == kind)
        with self.database.begin() as conn:
            rows = conn.execute(query.order_by(table.c.opened_at, table.c.key)).mappings().all()
        return [_incident(row) for row in rows]
