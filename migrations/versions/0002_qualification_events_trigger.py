"""Change capture: every change of a symbol's layer appends a qualification_events row.

The trigger lives in the database, so any writer of ``companies`` (the CLI, an external scanner,
plain SQL) produces its events atomically with its change. ``source`` records who wrote: on
PostgreSQL a writer may ``SET LOCAL ai_trader.event_source = '…'``; otherwise it is ``sql``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = (
    "CASE WHEN {old} IS NULL THEN 'qualified' WHEN {new} IS NULL THEN 'deactivated' "
    "WHEN {new} > {old} THEN 'promoted' ELSE 'demoted' END"
)

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION record_qualification_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_layer smallint := NULL;
    new_layer smallint := NULL;
    changed_symbol text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_layer := OLD.layer;
        changed_symbol := OLD.symbol;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_layer := NEW.layer;
        changed_symbol := NEW.symbol;
    END IF;
    IF old_layer IS NOT DISTINCT FROM new_layer THEN
        RETURN NULL;
    END IF;
    INSERT INTO qualification_events (symbol, from_layer, to_layer, kind, occurred_at, source)
    VALUES (
        changed_symbol, old_layer, new_layer,
        {KIND.format(old="old_layer", new="new_layer")},
        now(),
        COALESCE(NULLIF(current_setting('ai_trader.event_source', true), ''), 'sql')
    );
    RETURN NULL;
END;
$$;
"""

POSTGRES_TRIGGER = """
CREATE TRIGGER companies_qualification_events
AFTER INSERT OR UPDATE OR DELETE ON companies
FOR EACH ROW EXECUTE FUNCTION record_qualification_event();
"""

# SQLite: one trigger per operation; the WHEN clause keeps unchanged layers out of the log.
# occurred_at is written in the text format SQLAlchemy's DateTime reads back.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_TRIGGERS = {
    "companies_qualification_events_insert": f"""
CREATE TRIGGER companies_qualification_events_insert AFTER INSERT ON companies
WHEN NEW.layer IS NOT NULL
BEGIN
    INSERT INTO qualification_events (symbol, from_layer, to_layer, kind, occurred_at, source)
    VALUES (NEW.symbol, NULL, NEW.layer, 'qualified', {SQLITE_NOW}, 'sql');
END
""",
    "companies_qualification_events_update": f"""
CREATE TRIGGER companies_qualification_events_update AFTER UPDATE ON companies
WHEN OLD.layer IS NOT NEW.layer
BEGIN
    INSERT INTO qualification_events (symbol, from_layer, to_layer, kind, occurred_at, source)
    VALUES (NEW.symbol, OLD.layer, NEW.layer, {KIND.format(old="OLD.layer", new="NEW.layer")},
            {SQLITE_NOW}, 'sql');
END
""",
    "companies_qualification_events_delete": f"""
CREATE TRIGGER companies_qualification_events_delete AFTER DELETE ON companies
WHEN OLD.layer IS NOT NULL
BEGIN
    INSERT INTO qualification_events (symbol, from_layer, to_layer, kind, occurred_at, source)
    VALUES (OLD.symbol, OLD.layer, NULL, 'deactivated', {SQLITE_NOW}, 'sql');
END
""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS companies_qualification_events ON companies")
        op.execute("DROP FUNCTION IF EXISTS record_qualification_event()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
