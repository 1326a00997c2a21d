"""What the market database knows about the symbols of a read: each one's layer now, and every layer
it has held (from ``qualification_events``).

Rows in the lake carry the layer of the partition that wrote them, and a partition only ever holds
symbols of its layer at the time (a rewritten slice moves to the writer's layer, retention writes a
symbol's current or pre-demotion layer): so a symbol's rows lie under layers it has held. The cold
read uses that set to skip the other layers' row groups, which maintenance clusters apart.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from ai_trader_assets.read.requests import ReadError
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import symbol_changes

IN_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class SymbolLayers:
    """``current``: each symbol's layer now (None: inactive); ``held``: every layer it has had;
    ``earlier``: for a renamed symbol, its earlier names, newest first, each with the first session
    of the name that followed it."""

    current: dict[str, int | None]
    held: dict[str, frozenset[int]]
    earlier: dict[str, list[tuple[str, dt.date]]] = dataclasses.field(default_factory=dict)

    def layers(self, symbols: Sequence[str]) -> list[int]:
        """Every layer any of the symbols has held, sorted."""
        return sorted(set().union(*(self.held[s] for s in symbols))) if symbols else []


class LayerLookup:
    """:func:`symbol_layers` remembered until the next qualification event: every change of a
    symbol's layer appends one (a database trigger, whoever writes ``companies``), so the newest event
    id, one index seek, says whether a remembered answer still holds. Repeated reads of the same
    symbols (a backtest stepping through its dates) skip the lookup."""

    def __init__(self, database: MarketDatabase) -> None:
        self.database = database
        self._remembered: dict[tuple[str, ...], tuple[int, SymbolLayers]] = {}
        self._renames: tuple[int, dict[str, list[tuple[str, dt.date]]]] | None = None

    def _newest_event(self) -> int:
        with self.database.begin() as conn:
            newest = conn.exec_driver_sql("SELECT MAX(id) FROM qualification_events").scalar_one_or_none()
        return -1 if newest is None else int(str(newest))

    def _earlier_names(self, symbols: Sequence[str], event: int) -> dict[str, list[tuple[str, dt.date]]]:
        """Per symbol that was renamed, the names it traded under before, newest first, each with the
        first session of the name after it (``symbol_changes``, chains followed). Recording a rename
        carries the qualification over, which appends events: so the table is remembered per newest
        event id too."""
        if self._renames is None or self._renames[0] != event:
            with self.database.begin() as conn:
                rows = conn.execute(
                    sa.select(
                        symbol_changes.c.old_symbol,
                        symbol_changes.c.new_symbol,
                        symbol_changes.c.effective_date,
                    )
                ).all()
            into: dict[str, list[tuple[str, dt.date]]] = {}
            for old, new, effective in rows:
                into.setdefault(str(new), []).append((str(old), dt.date.fromisoformat(str(effective))))
            self._renames = (event, into)
        into = self._renames[1]
        found: dict[str, list[tuple[str, dt.date]]] = {}
        for symbol in symbols if into else ():
            chain: list[tuple[str, dt.date]] = []
            current, before = symbol, dt.date.max
            for _ in range(20):  # a longer chain is a loop in the data
                earlier = [(old, day) for old, day in into.get(current, []) if day < before]
                if not earlier:
                    break
                old, day = max(earlier, key=lambda change: change[1])
                chain.append((old, day))
                current, before = old, day
            if chain:
                found[symbol] = chain
        return found

    def of(self, symbols: Sequence[str]) -> SymbolLayers:
        key = tuple(symbols)
        event = self._newest_event()
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] == event:
            return remembered[1]
        found = dataclasses.replace(
            symbol_layers(self.database, symbols), earlier=self._earlier_names(symbols, event)
        )
        if len(self._remembered) >= REMEMBERED_REQUESTS:
            self._remembered.clear()
        self._remembered[key] = (event, found)
        return found


REMEMBERED_REQUESTS = 64


def symbol_layers(database: MarketDatabase, symbols: Sequence[str]) -> SymbolLayers:
    """Layers of the symbols; an unknown symbol is a :class:`ReadError` naming it.

    One query per 500 symbols (plain driver SQL: SQLAlchemy's compiling of a 500-value IN list costs
    more than the query): each company with its layer and the layers of its events.
    """
    current: dict[str, int | None] = {}
    held: dict[str, set[int]] = {s: set() for s in symbols}
    mark = database.placeholder
    with database.begin() as conn:
        for start in range(0, len(symbols), IN_CHUNK):
            chunk = list(symbols[start : start + IN_CHUNK])
            marks = ", ".join([mark] * len(chunk))
            statement = (
                "SELECT c.symbol, c.layer, e.from_layer, e.to_layer FROM companies AS c "
                "LEFT JOIN qualification_events AS e ON e.symbol = c.symbol "
                f"WHERE c.symbol IN ({marks})"
            )
            for symbol, layer, before, after in conn.exec_driver_sql(statement, tuple(chunk)).fetchall():
                name = str(symbol)
                current[name] = None if layer is None else int(str(layer))
                held[name].update(int(str(value)) for value in (layer, before, after) if value is not None)
    unknown = [s for s in symbols if s not in current]
    if unknown:
        names = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ReadError(
            f"unknown symbol{'s' if len(unknown) > 1 else ''} {names}: not in the companies table "
            "(add with 'ai-trader companies import FILE.csv')"
        )
    return SymbolLayers(current, {s: frozenset(v) for s, v in held.items()})
