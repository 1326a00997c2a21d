"""Apply the Alembic migrations in ``<repo>/migrations`` to the market database.

Every command checks the schema first (:func:`current_revision` against :func:`head_revision`). The
check reads the ``alembic_version`` table and the revision ids of ``migrations/versions`` directly,
so a read never pays for importing Alembic (a fifth of a second); Alembic loads to migrate. A test
holds :func:`head_revision` equal to Alembic's own head.
"""

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets.storage.database import MarketDatabase

MIGRATIONS_DIR = REPO_ROOT / "migrations"
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"""^revision(?::[^=]*)?=\s*["'](\w+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?::[^=]*)?=\s*["'](\w+)["']""", re.MULTILINE)

if TYPE_CHECKING:
    from alembic.config import Config


def _alembic_config() -> "Config":
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads to migrate only

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(database: MarketDatabase, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (each migration in its own transaction)."""
    from alembic import command  # noqa: PLC0415 - Alembic loads to migrate only

    config = _alembic_config()
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def downgrade(database: MarketDatabase, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    from alembic import command  # noqa: PLC0415 - Alembic loads to migrate only

    config = _alembic_config()
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def current_revision(database: MarketDatabase) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with database.engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        found: list[str] = list(
            connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        )
    return str(found[0]) if len(found) == 1 else None


def head_revision() -> str | None:
    """The newest revision shipped with the code: the one no other revision builds on."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(text))
        parents.update(_DOWN_REVISION.findall(text))
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"migrations/versions has several heads {sorted(heads)}: merge them")
    return heads.pop() if heads else None
