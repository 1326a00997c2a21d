"""Alembic environment for the market database (PostgreSQL and SQLite).

Run through ``ai-trader db upgrade`` (which passes an open connection), or plain ``alembic``
with ``AI_TRADER_DATABASE_URL`` set.
"""

from alembic import context

from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.schema import metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from ai_trader_assets.settings import load_settings

    database = MarketDatabase(load_settings().database_url)
    try:
        with database.engine.connect() as conn:
            _run(conn)
    finally:
        database.dispose()
