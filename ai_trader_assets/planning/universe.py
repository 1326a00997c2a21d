"""Layer 0 from reference data, no Dagster: which companies a provider's list adds, updates, and
(after ``universe.delist_after_days`` consecutive absences) deactivates — and when to refuse.

A sync compares the primary provider's list of tradable stocks, filtered by the types and exchanges of
``pipeline.yaml``'s ``universe`` section, with the active companies. Listed symbols are upserted
(name, exchange, active: a new one enters as layer 0, its qualification events fire through the
database trigger as for any writer); an active symbol missing from the list counts one more
consecutive absence, and is deactivated at ``delist_after_days`` of them.

The guard: a list that comes back empty, truncated (a page shorter than it says) or lacking more than
``max_deactivate_share`` of the active universe changes nothing — not even the absence counts — and
the sync reports how many symbols it would have started removing (the system this replaces emptied a
layer from a short list).
"""

import dataclasses
import datetime as dt

import pandas as pd

from ai_trader_assets.config import UniverseSpec
from ai_trader_assets.providers.base import MarketDataProvider, PaginationError, ProviderError, UniverseSource
from ai_trader_assets.storage.companies import CompaniesRepository, ImportResult

SOURCE = "universe-sync"
MAX_RENAME_LOOKUPS = 50


@dataclasses.dataclass
class UniversePlan:
    """What one sync would do (``refused`` says why it does nothing instead)."""

    listed: list[dict[str, str | None]]  # the filtered list: symbol, name, exchange
    new: list[str]
    missing: dict[str, tuple[int, dt.datetime]]  # active but not listed: (consecutive misses, first)
    deactivate: list[str]
    active_before: int
    rejects: int = 0
    filtered_out: int = 0
    refused: str | None = None
    applied: ImportResult | None = None
    renames: list[tuple[str, str, dt.date]] = dataclasses.field(default_factory=list)

    @property
    def missing_share(self) -> float:
        return len(self.missing) / self.active_before if self.active_before else 0.0

    def summary(self) -> dict[str, str | int | float]:
        return {
            "listed (after type and exchange filters)": len(self.listed),
            "filtered out by type or exchange": self.filtered_out,
            "rejected entries (invalid tickers)": self.rejects,
            "active before": self.active_before,
            "new listings (layer 0)": len(self.new),
            "active but missing from the list": len(self.missing),
            "deactivated (missing for delist_after_days syncs)": len(self.deactivate),
            "renames (old -> new from)": ", ".join(f"{o} -> {n} from {d}" for o, n, d in self.renames) or "-",
            "refused": self.refused or "-",
            "examples new": ", ".join(self.new[:20]) or "-",
            "examples deactivated": ", ".join(self.deactivate[:20]) or "-",
        }


def plan_sync(
    listing: pd.DataFrame,
    active: list[str],
    known: set[str],
    previous: dict[str, tuple[int, dt.datetime]],
    spec: UniverseSpec,
    *,
    now: dt.datetime,
) -> UniversePlan:
    """The sync's plan from the provider's listing, the active and known symbols and the absences so far."""
    kept = listing[listing["type"].isin(spec.types) & listing["exchange"].isin(spec.exchanges)]
    listed: list[dict[str, str | None]] = [
        {
            "symbol": str(r.symbol),
            "name": None if pd.isna(r.name) else str(r.name),
            "exchange": str(r.exchange),
        }
        for r in kept.itertuples(index=False)
    ]
    symbols = {str(row["symbol"]) for row in listed}
    missing: dict[str, tuple[int, dt.datetime]] = {}
    for symbol in active:
        if symbol not in symbols:
            count, first = previous.get(symbol, (0, now))
            missing[symbol] = (count + 1, first)
    plan = UniversePlan(
        listed=listed,
        new=sorted(symbols - known),
        missing=missing,
        deactivate=sorted(s for s, (count, _) in missing.items() if count >= spec.delist_after_days),
        active_before=len(active),
        filtered_out=len(listing) - len(kept),
    )
    if not listed:
        plan.refused = "the provider's list is empty (after the type and exchange filters): nothing changed"
    elif plan.missing_share > spec.max_deactivate_share:
        plan.refused = (
            f"the list lacks {len(missing)} of {len(active)} active symbols ({plan.missing_share:.1%}, "
            f"more than universe.max_deactivate_share {spec.max_deactivate_share:.0%}): a sync would start "
            f"deactivating them ({len(plan.deactivate)} at once); nothing changed"
        )
    return plan


def sync_universe(
    source: UniverseSource,
    companies: CompaniesRepository,
    spec: UniverseSpec,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> UniversePlan:
    """Fetch the list, plan, and (unless refused or a dry run) apply it in one transaction."""
    now = now or dt.datetime.now(tz=dt.UTC)
    active = companies.active()
    try:
        result = source.listed_stocks()
    except PaginationError as exc:
        plan = UniversePlan([], [], {}, [], len(active))
        plan.refused = f"the provider's list came back truncated ({exc}): nothing changed"
        return plan
    known = set(companies.layers_of(result.frame["symbol"].tolist()))
    plan = plan_sync(result.frame, active, known, companies.absences(), spec, now=now)
    plan.rejects = len(result.rejects)
    if plan.refused is None and not dry_run:
        # Asked before anything is written: a failed lookup fails the sync with nothing changed, and
        # a renamed symbol is not deactivated (losing its qualification) before it is carried over.
        renames = find_renames(source, plan)
        renamed = {old for old, _, _ in renames}
        deactivate = [s for s in plan.deactivate if s not in renamed]
        gone = renamed | set(plan.deactivate)
        still_missing = {s: v for s, v in plan.missing.items() if s not in gone}
        plan.applied = companies.sync_universe(plan.listed, deactivate, still_missing, source=SOURCE)
        plan.renames = [r for r in renames if companies.record_rename(*r, source=SOURCE)]
    return plan


def find_renames(source: UniverseSource, plan: UniversePlan) -> list[tuple[str, str, dt.date]]:
    """A rename shows up as a new listing while an active symbol goes missing: the new listings'
    ticker events say which (at most ``MAX_RENAME_LOOKUPS`` per sync, and none on a first sync, when
    nothing is missing). Applying one (``CompaniesRepository.record_rename``) moves the old symbol's
    qualification to the new one and deactivates the old one at once."""
    if not plan.new or not plan.missing:
        return []
    return [
        (old, new, effective)
        for symbol in plan.new[:MAX_RENAME_LOOKUPS]
        for old, new, effective in source.ticker_changes(symbol)
        if new == symbol and old in plan.missing
    ]


def universe_source(provider: MarketDataProvider, name: str) -> UniverseSource:
    """The primary provider as the universe's source, when it lists stocks (polygon, alpaca, demo)."""
    if not isinstance(provider, UniverseSource):
        raise ProviderError(
            f"the {name} provider lists no universe: sync it with AI_TRADER_PROVIDER=polygon or alpaca "
            "(or demo), or import companies with 'ai-trader companies import'"
        )
    return provider
