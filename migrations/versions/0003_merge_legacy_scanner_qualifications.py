"""Merge a legacy ``scanner_qualifications`` table into ``companies`` (GREATEST semantics).

The old pipeline kept scanner layers in a second table that the backfill read while it went stale.
Where that table exists, each of its symbols ends up with ``max(companies layer, scanner layer)``:
a qualification is never lowered, the newer timestamps and liquidity score are kept, and symbols
``companies`` lacks are inserted. The legacy table itself is left untouched (nothing reads it
afterwards). Counts per layer before and after are logged. Without the table this does nothing.
The change-capture trigger records every raised layer as a qualification event (source
``legacy-merge``), so the qualification sensor backfills the merged symbols.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_TABLE = "scanner_qualifications"
SOURCE = "legacy-merge"
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
log = logging.getLogger("ai_trader_assets.migrations")


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    stamp: dt.datetime = value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _newest(*values: dt.datetime | None) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _layer_counts(bind: sa.Connection) -> dict[str, int]:
    rows: Sequence[Any] = bind.execute(sa.text("SELECT layer, COUNT(*) FROM companies GROUP BY layer")).all()
    return {("none" if layer is None else str(layer)): int(count) for layer, count in sorted(rows, key=str)}


def _legacy_layers(bind: sa.Connection) -> dict[str, tuple[int, float | None, dt.datetime | None]]:
    """Best layer per valid symbol in the legacy table; malformed rows are reported, not merged."""
    best: dict[str, tuple[int, float | None, dt.datetime | None]] = {}
    rows: Sequence[tuple[Any, ...]] = bind.execute(
        sa.text("SELECT symbol, layer_qualified, liquidity_score, last_updated FROM scanner_qualifications")
    ).all()
    for raw_symbol, raw_layer, score, updated in rows:
        symbol = str(raw_symbol or "").strip().upper()
        try:
            layer = int(raw_layer)
        except (TypeError, ValueError):
            layer = -1
        if not SYMBOL.match(symbol) or layer not in (0, 1, 2, 3):
            log.warning(
                "legacy row not merged (left in %s): symbol=%r layer_qualified=%r",
                LEGACY_TABLE,
                raw_symbol,
                raw_layer,
            )
            continue
        updated_at = _utc(updated)
        previous = best.get(symbol)
        if previous is None or (layer, updated_at or dt.datetime.min.replace(tzinfo=dt.UTC)) > (
            previous[0],
            previous[2] or dt.datetime.min.replace(tzinfo=dt.UTC),
        ):
            best[symbol] = (layer, score, updated_at)
    return best


def _merge_one(
    bind: sa.Connection,
    *,
    symbol: str,
    layer: int,
    score: float | None,
    updated: dt.datetime | None,
    now: dt.datetime,
) -> None:
    current = (
        bind.execute(sa.text("SELECT * FROM companies WHERE symbol = :symbol"), {"symbol": symbol})
        .mappings()
        .first()
    )
    stamp = updated or now
    if current is None:
        values: dict[str, Any] = {
            "symbol": symbol,
            "is_active": True,
            "l1": layer == 1,
            "l2": layer == 2,
            "l3": layer == 3,
            "score": score,
            "u1": stamp if layer == 1 else None,
            "u2": stamp if layer == 2 else None,
            "u3": stamp if layer == 3 else None,
            "updated_at": stamp,
        }
        bind.execute(
            sa.text(
                "INSERT INTO companies (symbol, is_active, layer1_qualified, layer2_qualified, "
                "layer3_qualified, liquidity_score, layer1_updated, layer2_updated, layer3_updated, "
                "updated_at) VALUES (:symbol, :is_active, :l1, :l2, :l3, :score, :u1, :u2, :u3, "
                ":updated_at)"
            ),
            values,
        )
        return
    company_updated = _utc(current["updated_at"])
    legacy_is_newer = updated is not None and (company_updated is None or updated > company_updated)
    raise_layer = current["layer"] is None or layer > current["layer"]
    flag = f"layer{layer}_qualified"
    values = {
        "symbol": symbol,
        # GREATEST semantics: a flag already set stays set; the legacy layer's flag is added.
        "is_active": bool(current["is_active"]) or (raise_layer and layer == 0),
        "l1": bool(current["layer1_qualified"]) or (raise_layer and flag == "layer1_qualified"),
        "l2": bool(current["layer2_qualified"]) or (raise_layer and flag == "layer2_qualified"),
        "l3": bool(current["layer3_qualified"]) or (raise_layer and flag == "layer3_qualified"),
        "score": score
        if legacy_is_newer or current["liquidity_score"] is None
        else current["liquidity_score"],
        "updated_at": _newest(company_updated, updated),
    }
    for n in (1, 2, 3):
        own = _utc(current[f"layer{n}_updated"])
        values[f"u{n}"] = _newest(own, stamp) if (raise_layer and layer == n) else own
    bind.execute(
        sa.text(
            "UPDATE companies SET is_active = :is_active, layer1_qualified = :l1, "
            "layer2_qualified = :l2, layer3_qualified = :l3, liquidity_score = :score, "
            "layer1_updated = :u1, layer2_updated = :u2, layer3_updated = :u3, "
            "updated_at = :updated_at WHERE symbol = :symbol"
        ),
        values,
    )


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(LEGACY_TABLE):
        log.info("no legacy %s table: nothing to merge", LEGACY_TABLE)
        return
    before = _layer_counts(bind)
    first_event: int = bind.execute(
        sa.text("SELECT COALESCE(MAX(id), 0) FROM qualification_events")
    ).scalar_one()
    if bind.dialect.name == "postgresql":
        bind.execute(
            sa.text("SELECT set_config('ai_trader.event_source', :source, true)"), {"source": SOURCE}
        )
    legacy = _legacy_layers(bind)
    now = dt.datetime.now(tz=dt.UTC)
    for symbol, (layer, score, updated) in sorted(legacy.items()):
        _merge_one(bind, symbol=symbol, layer=layer, score=score, updated=updated, now=now)
    if bind.dialect.name == "sqlite":
        # SQLite triggers cannot read a session setting; attribute this migration's events here,
        # inside the same transaction.
        bind.execute(
            sa.text("UPDATE qualification_events SET source = :source WHERE id > :first"),
            {"source": SOURCE, "first": first_event},
        )
    else:
        bind.execute(sa.text("SELECT set_config('ai_trader.event_source', '', true)"))
    after = _layer_counts(bind)
    log.info(
        "merged %d legacy symbols from %s; companies per layer before %s, after %s",
        len(legacy),
        LEGACY_TABLE,
        before,
        after,
    )


def downgrade() -> None:
    # A merge of data cannot be undone without losing writes made since; downgrading keeps it.
    pass
