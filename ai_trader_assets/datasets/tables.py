"""The SQL metadata the hot tables are declared on (the rest of the market database's tables join it
in :mod:`ai_trader_assets.storage.schema`; the DDL itself is in ``migrations/``)."""

import sqlalchemy as sa

metadata = sa.MetaData()

UtcDateTime = sa.DateTime(timezone=True)
