"""Failover per dataset at run time: the same request goes to the next provider when one is unavailable.

The order per dataset is the primary (``AI_TRADER_PROVIDER``) followed by ``providers.yaml``'s
``failover`` list, keeping only providers whose keys are set. A provider is given up on when it
raises :class:`ProviderUnavailableError` after its own retries (5xx storm, timeouts, 429s, exhausted
quota) and is then skipped for the rest of the run, so one outage costs its retries once, not once per
request. A refused key (:class:`AuthenticationError`) is a configuration error: it fails the run, naming
the variable, and nothing fails over — another provider would hide it. ``demo`` never takes part.
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

from ai_trader_assets.config import GROUPED_DAILY
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.base import (
    MarketDataProvider,
    NotServedError,
    ProviderResult,
    ProviderUnavailableError,
)

log = logging.getLogger(__name__)


class FailoverProvider:
    """A :class:`MarketDataProvider` that tries each dataset's providers in order.

    Args:
        order: Per dataset, the provider names to try, first to last.
        build: Builds a provider by name (called once, on first use).
        primary: The primary's name (what ``name`` reports).
    """

    def __init__(
        self, order: Mapping[Dataset, Sequence[str]], build: Callable[[str], MarketDataProvider], primary: str
    ) -> None:
        self.order = {dataset: tuple(names) for dataset, names in order.items()}
        self.name = primary
        self._build = build
        self._built: dict[str, MarketDataProvider] = {}
        self.unavailable: dict[str, str] = {}  # provider -> why it was given up on in this run

    def __repr__(self) -> str:
        chains = ", ".join(f"{d.value}: {'>'.join(names)}" for d, names in self.order.items())
        return f"FailoverProvider({chains})"

    @property
    def grouped_daily(self) -> bool:
        """Whether the provider now first in line for daily bars has a market-wide daily endpoint
        (slices are planned for whoever is expected to serve them, including after a failover)."""
        daily = [n for n in self.order.get(Dataset.BARS_1DAY, ()) if n not in self.unavailable]
        return bool(daily) and daily[0] in GROUPED_DAILY

    def _provider(self, name: str) -> MarketDataProvider:
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def _serve(
        self, dataset: Dataset, symbols: Sequence[str], call: Callable[[MarketDataProvider], ProviderResult]
    ) -> ProviderResult:
        names = self.order.get(dataset, ())
        if not names:
            raise ProviderUnavailableError(f"no configured provider serves {dataset.value}")
        failovers: list[str] = []
        for position, name in enumerate(names):
            if name in self.unavailable:
                continue
            try:
                result = call(self._provider(name))
            except ProviderUnavailableError as exc:
                if not isinstance(exc, NotServedError):
                    self.unavailable[name] = str(exc)
                rest = [n for n in names[position + 1 :] if n not in self.unavailable]
                line = f"{name} could not serve {dataset.value} for {len(symbols)} symbol(s): {exc}; " + (
                    f"trying {rest[0]}" if rest else "no provider left"
                )
                log.warning(line)
                failovers.append(line)
                continue
            return dataclasses.replace(
                result,
                served={name: tuple(symbols)},
                failovers=(*result.failovers, *failovers),
            )
        given_up = "; ".join(f"{name}: {why}" for name, why in self.unavailable.items() if name in names)
        raise ProviderUnavailableError(
            f"every provider of {dataset.value} failed ({', '.join(names)}): "
            + ("; ".join(failovers) or given_up)
        )

    def grouped_daily_bars(self, session: dt.date, symbols: Sequence[str]) -> ProviderResult:
        return self._serve(Dataset.BARS_1DAY, symbols, lambda p: p.grouped_daily_bars(session, symbols))

    def bars(
        self,
        symbols: Sequence[str],
        dataset: Dataset,
        start: dt.date,
        end: dt.date,
        since: dt.datetime | None = None,
    ) -> ProviderResult:
        return self._serve(dataset, symbols, lambda p: p.bars(symbols, dataset, start, end, since))

    def news(self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime) -> ProviderResult:
        return self._serve(Dataset.NEWS, symbols, lambda p: p.news(symbols, start, end))

    def corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> ProviderResult:
        return self._serve(
            Dataset.CORPORATE_ACTIONS, symbols, lambda p: p.corporate_actions(symbols, start, end)
        )

    def trades(
        self, symbols: Sequence[str], session: dt.date, since: dt.datetime | None = None
    ) -> ProviderResult:
        return self._serve(Dataset.TICKS, symbols, lambda p: p.trades(symbols, session, since))
