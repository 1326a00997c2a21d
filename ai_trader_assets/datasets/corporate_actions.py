"""Corporate actions: splits and cash dividends, ``corporate_actions``.

- Rows: one per action (key ``id``), raw as the provider reported it; a split's ratio is
  ``split_to / split_from``, a dividend's amount ``cash_amount`` per share.
- Session: the session of the ex/execution date, or the next one.
- Validation: a key present and unique.
"""

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ai_trader_assets import calendar
from ai_trader_assets.datasets.frames import UTC_TS, symbol_column
from ai_trader_assets.datasets.names import Dataset
from ai_trader_assets.datasets.spec import DatasetSpec, LakeLayout
from ai_trader_assets.datasets.tables import UtcDateTime, metadata
from ai_trader_assets.datasets.validation import key_problems

DATE_COLUMNS = frozenset({"ex_date", "declaration_date", "record_date", "pay_date"})
CORPORATE_ACTION_COLUMNS: dict[str, Any] = {
    "id": "string",
    "symbol": "string",
    "action_type": "string",
    "ex_date": "object",  # datetime.date
    "split_from": "float64",
    "split_to": "float64",
    "cash_amount": "float64",
    "currency": "string",
    "declaration_date": "object",
    "record_date": "object",
    "pay_date": "object",
    "source": "string",
    "ingested_at": UTC_TS,
}
READ_COLUMNS = (
    "symbol",
    "ex_date",
    "action_type",
    "split_from",
    "split_to",
    "cash_amount",
    "currency",
    "declaration_date",
    "record_date",
    "pay_date",
    "id",
    "source",
)

CORPORATE_ACTIONS_TABLE = sa.Table(
    "corporate_actions",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("symbol", sa.String(10), nullable=False),
    sa.Column("action_type", sa.String(16), nullable=False),
    sa.Column("ex_date", sa.Date, nullable=False),
    sa.Column("split_from", sa.Float(53)),
    sa.Column("split_to", sa.Float(53)),
    sa.Column("cash_amount", sa.Float(53)),
    sa.Column("currency", sa.String(8)),
    sa.Column("declaration_date", sa.Date),
    sa.Column("record_date", sa.Date),
    sa.Column("pay_date", sa.Date),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_corporate_actions_symbol_ex_date",
    CORPORATE_ACTIONS_TABLE.c.symbol,
    CORPORATE_ACTIONS_TABLE.c.ex_date,
)
sa.Index("ix_corporate_actions_ex_date", CORPORATE_ACTIONS_TABLE.c.ex_date)


def action_sessions(frame: pd.DataFrame) -> np.ndarray:
    """The session of each action: its ex-date's, or the next one."""
    if frame.empty:
        return np.array([], dtype="datetime64[D]")
    return calendar.sessions_on_or_after(np.array(list(frame["ex_date"]), dtype="datetime64[D]"))


SPEC = DatasetSpec(
    dataset=Dataset.CORPORATE_ACTIONS,
    label="corporate actions",
    description="Splits and dividends of the layer's symbols with an ex-date in this session.",
    columns=CORPORATE_ACTION_COLUMNS,
    key=("id",),
    time_column="ex_date",
    table=CORPORATE_ACTIONS_TABLE,
    lake=LakeLayout(bucket="year", slice_column="symbol", cluster_by=("symbol",), sort_by=("ex_date", "id")),
    read_columns=READ_COLUMNS,
    read_order=("symbol", "ex_date", "id"),
    sessions_of=action_sessions,
    symbols_of=symbol_column,
    problems=lambda frame: key_problems(frame, ("id",)),
    date_columns=DATE_COLUMNS,
)
