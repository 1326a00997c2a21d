"""Apply the Alembic migrations in ``<repo>/migrations`` to the market database."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets.storage.database import MarketDatabase

MIGRATIONS_DIR = REPO_ROOT / "migrations"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(database: MarketDatabase, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (each migration in its own transaction)."""
    config = _alembic_config()
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def downgrade(database: MarketDatabase, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    config = _alembic_config()
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def current_revision(database: MarketDatabase) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with the code."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()
