"""What the ledger says of each layer's retention windows: per layer and dataset it ingests, the
current members, the window's sessions and the (session, symbol) pairs stored whole. Gap healing
reads the hot windows, ``ai-trader status`` the cold ones."""

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Literal

from ai_trader_assets import calendar
from ai_trader_assets.config import PlatformConfig
from ai_trader_assets.datasets import LAYERS, Dataset
from ai_trader_assets.storage.companies import CompaniesRepository
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.ledger import Ledger


@dataclasses.dataclass(frozen=True)
class WindowCoverage:
    """One layer's window of one dataset.

    Attributes:
        covered: The pairs fetched whole, with the rows they hold (a session still trading, or partly
            fetched, is not covered).
    """

    layer: int
    dataset: Dataset
    members: list[str]
    sessions: list[dt.date]
    covered: dict[tuple[dt.date, str], int]

    def complete_sessions(self) -> int:
        """Sessions every member has (none when the layer has no members)."""
        if not self.members:
            return 0
        per_session: dict[dt.date, int] = {}
        for session, _ in self.covered:
            per_session[session] = per_session.get(session, 0) + 1
        return sum(1 for s in self.sessions if per_session.get(s, 0) == len(self.members))


def window_coverage(
    database: MarketDatabase,
    config: PlatformConfig,
    today: dt.date,
    *,
    window: Literal["hot", "cold"],
    last: dt.date,
    layers: Sequence[int] = LAYERS,
) -> Iterator[WindowCoverage]:
    """Per layer (in the order given) and dataset it ingests, the coverage of its window's sessions
    up to ``last`` (calendar days back from ``today``, as retention counts)."""
    companies, ledger = CompaniesRepository(database), Ledger(database)
    for layer in layers:
        members = companies.members(layer)
        for dataset in config.layers.layers[layer].datasets:  # type: ignore[index]
            retention = config.window(layer, dataset)
            assert retention is not None  # validated: every ingested dataset has a window
            days = retention.hot_days if window == "hot" else retention.cold_days
            sessions = calendar.sessions(config.window_start(days, today), last)
            covered = ledger.covered_rows(dataset, sessions, members) if members else {}
            yield WindowCoverage(layer, dataset, members, sessions, covered)
