"""The ingest flow, no Dagster: which (session, symbol) pairs a run fetches (:mod:`.fetch`), in slices
(:mod:`.slices`), each split into partition records (:mod:`.split`) that the storage writer stores;
the request, the report and the stream handed to storage (:mod:`.request`)."""

from ai_trader_assets.ingest.fetch import Ingestor
from ai_trader_assets.ingest.request import IngestReport, IngestRequest, IngestStream, describe

__all__ = ["IngestReport", "IngestRequest", "IngestStream", "Ingestor", "describe"]
