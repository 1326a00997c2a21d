"""The ground floor for data: one module per dataset family declaring, in one place, its columns and
dtypes, key, time column and session rule, validation and quarantine reasons, hot table, lake
layout and read order (:class:`DatasetSpec`); the registry the rest iterates over; the symbol rule
and company records. Nothing here imports providers, storage, read, ingest, planning or defs: they
all import from here."""

from ai_trader_assets.datasets.bars import BAR_DATASETS
from ai_trader_assets.datasets.names import LAYERS, Dataset
from ai_trader_assets.datasets.registry import INGESTED_DATASETS, PLANNED_DATASETS, SPECS
from ai_trader_assets.datasets.spec import DatasetSpec

__all__ = [
    "BAR_DATASETS",
    "INGESTED_DATASETS",
    "LAYERS",
    "PLANNED_DATASETS",
    "SPECS",
    "Dataset",
    "DatasetSpec",
]
