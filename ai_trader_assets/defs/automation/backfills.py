"""The one place that uses Dagster's internal API.

A sensor can launch a real backfill (split into runs by each asset's backfill policy, shown in the
UI's Backfills tab) only through ``RunRequest.for_asset_graph_subset``, which takes the internal
``AssetGraphSubset``. Keep that import here, behind one small function with its own test.
"""

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset


def backfill_run_request(
    partitions_def: dg.PartitionsDefinition,
    partition_keys_by_asset: Mapping[str, Sequence[str]],
    tags: Mapping[str, str],
) -> dg.RunRequest:
    """A run request that launches one backfill of these assets' partitions."""
    # The serdes decorator hides the NamedTuple's defaults from mypy; both fields are given anyway.
    subset = AssetGraphSubset(  # type: ignore[call-arg]
        partitions_subsets_by_asset_key={
            dg.AssetKey(asset): partitions_def.empty_subset().with_partition_keys(keys)
            for asset, keys in partition_keys_by_asset.items()
            if keys
        },
        non_partitioned_asset_keys=set(),
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=dict(tags))
