"""Apply the Alembic migrations in ``<repo>/migrations`` to the market database.

Every command checks the schema first (:func:`current_revision` against :func:`head_revision`). The
check reads the ``alembic_version`` table and the revision ids of ``migrations/versions`` directly,
so a read never pays for importing Alembic (a fifth of a second); Alembic loads to migrate. A test
holds :func:`head_revision` equal to Alembic's own head.
"""

import ast
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ai_trader_assets.config import REPO_ROOT
from ai_trader_assets.storage.database import MarketDatabase

MIGRATIONS_DIR = REPO_ROOT / "migrations"
VERSION_TABLE = "alembic_version"

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


class SchemaError(RuntimeError):
    """The database's or the code's migration history is not one line of revisions."""


def current_revision(database: MarketDatabase) -> str | None:
    """The revision the database is at, or None before the first migration.

    Raises:
        SchemaError: the version table holds several revisions (branches this code never makes).
    """
    with database.engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        found: list[str] = list(
            connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        )
    if len(found) > 1:
        raise SchemaError(
            f"the market database is at several revisions {sorted(found)}: resolve it with Alembic"
        )
    return str(found[0]) if found else None


def _revisions(path: Path) -> tuple[str, tuple[str, ...]]:
    """A migration file's ``revision`` and the revisions it builds on (``down_revision``)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        raise SchemaError(f"{path}: no revision id")
    if isinstance(down, str):
        return revision, (down,)
    return revision, tuple(str(parent) for parent in down) if isinstance(down, tuple | list) else ()


def head_revision() -> str | None:
    """The newest revision shipped with the code: the one no other revision builds on.

    Raises:
        SchemaError: no migrations folder, or several heads (branches to merge).
    """
    folder = MIGRATIONS_DIR / "versions"
    if not folder.is_dir():
        raise SchemaError(f"{folder} is missing: the code ships its migrations beside itself")
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        revision, builds_on = _revisions(path)
        revisions.add(revision)
        parents.update(builds_on)
    heads = revisions - parents
    if len(heads) > 1:
        raise SchemaError(f"migrations/versions has several heads {sorted(heads)}: merge them")
    return heads.pop() if heads else None
