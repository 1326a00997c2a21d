"""The companies repository: the one source of truth for which symbol is in which layer.

Every write goes through bound parameters after symbol validation; the database's own check
constraint and change-capture trigger back this up for writers that bypass this module.
"""

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ai_trader_assets.datasets.companies import (
    FLAG_COLUMNS,
    flags_for_layer,
    normalize_record,
    read_companies_csv,
    validate_layer,
)
from ai_trader_assets.datasets.symbols import validate_symbol
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import (
    companies,
    qualification_events,
    symbol_changes,
    universe_absences,
)

FLAG_COLUMNS_SQL = tuple(companies.c[name] for name in FLAG_COLUMNS[1:])


class UnknownSymbolError(LookupError):
    """The symbol is not in the companies table."""


@dataclasses.dataclass(frozen=True)
class Company:
    symbol: str
    name: str | None
    exchange: str | None
    is_active: bool
    layer1_qualified: bool
    layer2_qualified: bool
    layer3_qualified: bool
    liquidity_score: float | None
    layer: int | None


@dataclasses.dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    layer_changes: int


class CompaniesRepository:
    """Reads and writes the ``companies`` table.

    Args:
        database: The market database.
    """

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database

    # ------------------------------------------------------------------ reads

    def get(self, symbol: str) -> Company:
        """The company row of a symbol.

        Raises:
            InvalidSymbolError, UnknownSymbolError
        """
        symbol = validate_symbol(symbol)
        with self.database.begin() as conn:
            row = conn.execute(sa.select(companies).where(companies.c.symbol == symbol)).mappings().first()
        if row is None:
            raise UnknownSymbolError(f"{symbol} is not in the companies table")
        return Company(**{f.name: row[f.name] for f in dataclasses.fields(Company)})

    def layer_of(self, symbol: str) -> int | None:
        """A symbol's layer (None when it is inactive and unqualified)."""
        return self.get(symbol).layer

    def members(self, layer: int) -> list[str]:
        """The symbols whose layer is ``layer`` now, sorted."""
        layer = _require_layer(layer)
        with self.database.begin() as conn:
            rows = conn.execute(
                sa.select(companies.c.symbol).where(companies.c.layer == layer).order_by(companies.c.symbol)
            )
            return list(rows.scalars())

    def layers_of(self, symbols: Iterable[str]) -> dict[str, int | None]:
        """The current layer of each known symbol (unknown symbols are absent)."""
        wanted = sorted(set(symbols))
        found: dict[str, int | None] = {}
        with self.database.begin() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(companies.c.symbol, companies.c.layer).where(
                        companies.c.symbol.in_(wanted[start : start + 500])
                    )
                )
                found.update({row[0]: row[1] for row in rows})
        return found

    def layer_counts(self) -> dict[int | None, int]:
        """How many symbols each layer holds (None: no layer)."""
        with self.database.begin() as conn:
            rows = conn.execute(sa.select(companies.c.layer, sa.func.count()).group_by(companies.c.layer))
            return {row[0]: int(row[1]) for row in rows}

    # ----------------------------------------------------------------- writes

    def set_layer(self, symbol: str, layer: int | None, *, source: str = "cli") -> Company:
        """Give an existing symbol exactly ``layer`` (None deactivates it).

        Raises:
            InvalidSymbolError, UnknownSymbolError, ValueError (bad layer)
        """
        symbol = validate_symbol(symbol)
        layer = validate_layer(layer)
        now = dt.datetime.now(tz=dt.UTC)
        with self.database.begin() as conn, self._attributed(conn, source):
            result = conn.execute(
                companies.update()
                .where(companies.c.symbol == symbol)
                .values(**_changes(flags_for_layer(layer), now))
            )
            if result.rowcount == 0:
                raise UnknownSymbolError(
                    f"{symbol} is not in the companies table; add it with 'ai-trader companies import'"
                )
        return self.get(symbol)

    def upsert(self, records: Iterable[Mapping[str, Any]], *, source: str) -> ImportResult:
        """Insert or update companies in one transaction; only the given columns are written.

        Each record needs ``symbol`` and may carry ``name``, ``exchange``, ``liquidity_score``,
        the qualification flags, or ``layer`` (translated by :func:`flags_for_layer`).
        """
        rows = [normalize_record(record) for record in records]
        with self.database.begin() as conn, self._attributed(conn, source):
            return self._write(conn, rows)

    def sync_universe(
        self,
        listed: Iterable[Mapping[str, Any]],
        deactivate: Iterable[str],
        absences: Mapping[str, tuple[int, dt.datetime]],
        *,
        source: str,
    ) -> ImportResult:
        """Apply a universe sync in one transaction: upsert the listed companies (name, exchange,
        active), deactivate the delisted ones (no layer: their qualifications end too), and replace
        the absence counts. The change-capture trigger records every layer change as for any writer.

        Args:
            listed: Records of the listed symbols (``symbol``, ``name``, ``exchange``).
            deactivate: Symbols to deactivate.
            absences: Per symbol still missing, (consecutive syncs missed, when first missed).
        """
        rows = [normalize_record({**record, "is_active": True}) for record in listed]
        rows += [normalize_record({"symbol": symbol, "layer": None}) for symbol in deactivate]
        with self.database.begin() as conn, self._attributed(conn, source):
            result = self._write(conn, rows)
            conn.execute(sa.delete(universe_absences))
            if absences:
                conn.execute(
                    sa.insert(universe_absences),
                    [
                        {"symbol": symbol, "missed_syncs": count, "first_missed_at": first}
                        for symbol, (count, first) in sorted(absences.items())
                    ],
                )
            return result

    def record_rename(self, old: str, new: str, effective: dt.date, *, source: str) -> bool:
        """Record that ``old`` trades as ``new`` from ``effective`` and carry its qualification over, in
        one transaction: ``new`` gets ``old``'s flags (and liquidity score), ``old`` is deactivated
        (no layer). Qualification events fire for both, as for any writer.

        Returns:
            False when the change was recorded before, or ``old`` is not a known company (a rename
            of nothing would make every read of ``new`` look for it): nothing is written.
        """
        old, new = validate_symbol(old), validate_symbol(new)
        with self.database.begin() as conn, self._attributed(conn, source):
            known = conn.execute(
                sa.select(symbol_changes.c.old_symbol).where(
                    symbol_changes.c.old_symbol == old,
                    symbol_changes.c.new_symbol == new,
                    symbol_changes.c.effective_date == effective,
                )
            ).first()
            found = {
                str(row.symbol): row
                for row in conn.execute(
                    sa.select(companies.c.symbol, companies.c.liquidity_score, *FLAG_COLUMNS_SQL).where(
                        companies.c.symbol.in_([old, new])
                    )
                )
            }
            previous, current = found.get(old), found.get(new)
            if known is not None or previous is None:
                return False
            conn.execute(
                sa.insert(symbol_changes).values(
                    old_symbol=old,
                    new_symbol=new,
                    effective_date=effective,
                    source=source,
                    recorded_at=dt.datetime.now(tz=dt.UTC),
                )
            )
            carried: dict[str, Any] = {"symbol": new, "is_active": True}
            # Never lose a qualification: the new symbol keeps any it already has (GREATEST).
            carried |= {
                f"layer{n}_qualified": bool(getattr(previous, f"layer{n}_qualified"))
                or (current is not None and bool(getattr(current, f"layer{n}_qualified")))
                for n in (1, 2, 3)
            }
            if previous.liquidity_score is not None:
                carried["liquidity_score"] = float(previous.liquidity_score)
            self._write(conn, [carried, normalize_record({"symbol": old, "layer": None})])
            conn.execute(sa.delete(universe_absences).where(universe_absences.c.symbol == old))
        return True

    def absences(self) -> dict[str, tuple[int, dt.datetime]]:
        """Per active symbol missing from the latest syncs: (consecutive syncs missed, first missed)."""
        with self.database.begin() as conn:
            return {
                row.symbol: (int(row.missed_syncs), row.first_missed_at)
                for row in conn.execute(sa.select(universe_absences))
            }

    def active(self) -> list[str]:
        """Every active symbol, sorted."""
        with self.database.begin() as conn:
            return list(
                conn.execute(
                    sa.select(companies.c.symbol).where(companies.c.is_active).order_by(companies.c.symbol)
                ).scalars()
            )

    def _write(self, conn: Connection, rows: list[dict[str, Any]]) -> ImportResult:
        now = dt.datetime.now(tz=dt.UTC)
        inserted = updated = 0
        before = _max_event_id(conn)
        existing: set[str] = set()
        symbols = [r["symbol"] for r in rows]
        for start in range(0, len(symbols), 5_000):  # bound the IN list (SQLite's variable limit)
            existing.update(
                conn.execute(
                    sa.select(companies.c.symbol).where(
                        companies.c.symbol.in_(symbols[start : start + 5_000])
                    )
                ).scalars()
            )
        for row in rows:
            statement = self._insert(conn)(companies).values(
                {"is_active": True, **row, "updated_at": now}
                | {f"layer{n}_updated": now for n in (1, 2, 3) if row.get(f"layer{n}_qualified")}
            )
            changes = _changes({k: v for k, v in row.items() if k != "symbol"}, now)
            conn.execute(statement.on_conflict_do_update(index_elements=["symbol"], set_=changes))
            if row["symbol"] in existing:
                updated += 1
            else:
                inserted += 1
        return ImportResult(inserted=inserted, updated=updated, layer_changes=_max_event_id(conn) - before)

    def import_csv(self, path: Path | str, *, source: str = "csv-import") -> ImportResult:
        """Import a companies CSV (header row; ``symbol`` required; see :data:`CSV_COLUMNS`).

        Every row is validated before anything is written; one bad row writes nothing.

        Raises:
            CompaniesImportError: naming the file, the line and the problem.
        """
        return self.upsert(read_companies_csv(Path(path)), source=source)

    # -------------------------------------------------------------- internals

    def _insert(self, conn: Connection) -> Any:
        return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert

    @contextlib.contextmanager
    def _attributed(self, conn: Connection, source: str) -> Iterator[None]:
        """Record ``source`` on the qualification events this transaction's writes produce.

        PostgreSQL's trigger reads a transaction-local setting; SQLite's cannot, so the events
        written inside this transaction are attributed afterwards, still inside it.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.set_config("ai_trader.event_source", source, True)))
            yield
            return
        before = _max_event_id(conn)
        yield
        conn.execute(
            qualification_events.update().where(qualification_events.c.id > before).values(source=source)
        )


def _require_layer(layer: int) -> int:
    checked = validate_layer(layer)
    if checked is None:
        raise ValueError("expected a layer 0-3")
    return checked


def _max_event_id(conn: Connection) -> int:
    return int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(qualification_events.c.id), 0))).scalar_one()
    )


def _changes(values: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """SET clause for an update: the values, plus fresh timestamps for flags that really change."""
    changes: dict[str, Any] = dict(values)
    for n in (1, 2, 3):
        flag = f"layer{n}_qualified"
        if flag in values:
            column = companies.c[flag]
            changes[f"layer{n}_updated"] = sa.case(
                (
                    column.is_distinct_from(sa.literal(bool(values[flag]))),
                    sa.literal(now, companies.c.updated_at.type),
                ),
                else_=companies.c[f"layer{n}_updated"],
            )
    changes["updated_at"] = now
    return changes
