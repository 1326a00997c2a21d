"""The market-data assets: one per dataset, partitioned by date (NYSE session) x layer.

Asset bodies stay thin: plan with :class:`ai_trader_assets.ingest.Ingestor`, hand the IO manager a
lazy :class:`ai_trader_assets.ingest.IngestStream` (it fetches and stores one bounded slice at a
time), then report the checks tallied as the slices were stored.

A backfill's range for an asset is one run (``BackfillPolicy.single_run``): how many runs a backfill
becomes is decided by its launcher from the rows it implies (``runs`` in pipeline.yaml), and a run's
memory is bounded by its slices, whatever the range.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg

from ai_trader_assets.config import cached_config
from ai_trader_assets.datasets import INGESTED_DATASETS, SPECS, Dataset
from ai_trader_assets.datasets.partitions import PartitionData, parse_partition_key
from ai_trader_assets.defs.market_data import reconciliation
from ai_trader_assets.defs.market_data.checks import (
    CHECK_SPECS,
    CheckTally,
    ticks_match_bars,
    ticks_match_bars_spec,
)
from ai_trader_assets.defs.market_data.partitions import configured_partitions
from ai_trader_assets.defs.platform.resources import (
    LakeResource,
    MarketDatabaseResource,
    MarketDataProviderResource,
    PlatformConfigResource,
)
from ai_trader_assets.ingest import Ingestor, IngestRequest, IngestStream
from ai_trader_assets.ingest.sentiment import SentimentInputs
from ai_trader_assets.ops.reconciliation import SampledPairs, reconciliation_possible
from ai_trader_assets.providers import MarketDataProvider, ProviderError
from ai_trader_assets.read import MarketData
from ai_trader_assets.run_tags import BACKFILL_REQUEST_TAG, REFRESH_TAG, flatfile_datasets
from ai_trader_assets.settings import FLATFILES, load_settings, needed_keys
from ai_trader_assets.storage import backfill_requests
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets.storage.ledger import Ledger
from ai_trader_assets.storage.social import SocialStore


def build_asset(
    dataset: Dataset, partitions_def: dg.PartitionsDefinition, pool: str, reconcile: bool | None = None
) -> dg.AssetsDefinition:
    """One dataset's asset; ``reconcile`` adds the daily bars' reconciliation check (default: when
    a second provider is configured)."""
    if reconcile is None:
        settings = load_settings()
        reconcile = reconciliation_possible(settings, cached_config(str(settings.config_dir)))
    reconciling = reconcile and dataset == Dataset.BARS_1DAY
    checks = CHECK_SPECS(dataset) + ([reconciliation.check_spec()] if reconciling else [])
    ticks = dataset == Dataset.TICKS
    if ticks:
        checks.append(ticks_match_bars_spec())
    sentiment = dataset == Dataset.SOCIAL_SENTIMENT
    # A run holding the dataset and the one it reads stores the input first.
    inputs = SPECS[dataset].reads

    @dg.asset(
        name=dataset.value,
        description=SPECS[dataset].description,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=pool,
        group_name="market_data",
        io_manager_key="market_data_io_manager",
        check_specs=checks,
        deps=[inputs.value] if inputs else None,
        kinds={"deltalake", "sql"},
    )
    def market_data(
        context: dg.AssetExecutionContext,
        platform: PlatformConfigResource,
        market_db: MarketDatabaseResource,
        provider: MarketDataProviderResource,
        lake: LakeResource,
    ) -> Iterator[dg.Output[IngestStream] | dg.AssetCheckResult]:
        partitions = [parse_partition_key(key) for key in context.partition_keys]
        backfill = None
        request_id = context.run.tags.get(BACKFILL_REQUEST_TAG)
        if request_id:
            backfill = backfill_requests.get(market_db.database, int(request_id))
        request = IngestRequest(
            dataset=dataset,
            partitions=partitions,
            today=platform.today(),
            now=platform.now(),
            refresh=context.run.tags.get(REFRESH_TAG) == "full",
            only_symbols=backfill.symbols if backfill else None,
            requested_from=backfill.start_date if backfill else None,
        )
        config = platform.get()
        reader, social = None, None
        if sentiment:
            reader = MarketData(market_db.database, lake.get_lake(), config=config, today=platform.today())
            social = SentimentInputs(
                social=provider.get_social_source(),
                news=reader.news,
                store=SocialStore(market_db.database),
                ledger=Ledger(market_db.database),
                universe=market_db.companies().active,
                config=config.sentiment,
            )
        ingestor = Ingestor(
            provider.get_provider(),
            market_db.companies(),
            Ledger(market_db.database),
            config,
            social,
            flatfiles=_flatfiles(context, provider, dataset),
        )
        stream = ingestor.stream(request)
        tally = CheckTally(dataset, lake_tables(lake.get_lake(), platform.get()))
        pairs = SampledPairs(platform.get().providers.reconciliation.sample_symbols)
        stored_trades: dict[dt.date, set[str]] = {}

        def stored(piece: list[PartitionData]) -> None:
            tally.add(piece)
            if reconciling:
                pairs.add(piece)
            for data in piece if ticks else []:
                stored_trades.setdefault(data.session, set()).update(s for s, n in data.fetched.items() if n)

        stream.on_stored = stored
        # The IO manager fetches and stores the stream here, slice by slice, before the checks below.
        yield dg.Output(stream, metadata={"partitions": len(partitions), "provider": provider.kind})
        yield from tally.results(platform, market_db)
        if ticks:
            yield ticks_match_bars(tally.tables, stored_trades)
        if reconciling:
            yield reconciliation.run_check(pairs, platform, market_db, lake, provider)
        if reader is not None:
            reader.close()

    return market_data


def _flatfiles(
    context: dg.AssetExecutionContext, provider: MarketDataProviderResource, dataset: Dataset
) -> MarketDataProvider | None:
    """Massive's flat files when the run's backfill plan chose them for this dataset."""
    if dataset.value not in flatfile_datasets(context.run.tags):
        return None
    flatfiles = provider.get_flatfiles()
    if flatfiles is None:
        raise ProviderError(
            f"this backfill reads {dataset.value} from Massive's flat files, but {needed_keys(FLATFILES)} "
            "are not set where the run executes"
        )
    return flatfiles


@dg.definitions
def market_data_assets() -> dg.Definitions:
    settings = load_settings()
    partitions_def = configured_partitions()
    return dg.Definitions(
        assets=[build_asset(d, partitions_def, pool=settings.provider) for d in INGESTED_DATASETS]
    )
