"""The code location's single entry point: every definition under ``defs/``, loaded once."""

import os
from pathlib import Path

import dagster as dg

# A run over a range of partitions would log a planned and a materialization event per partition, one
# insert each: ~10 ms apiece, tens of seconds for a promotion's few thousand partitions. Instead the
# planned ones are one event per asset naming the subset, and the materializations go in batches.
# (Partitions of a failed run then show as missing rather than failed in the UI; the backfill still
# knows them as failed.) Set here for the processes that load this code (run workers, the CLI); the
# deployment files set them for the webserver and the daemon, which create runs without importing it.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")


@dg.definitions
def defs() -> dg.Definitions:
    # The defs folder's own definitions. (``load_from_defs_folder`` would also import every installed
    # Components plugin, dagster-aws's among them, to list component types for the UI: this project
    # defines none, and every run's process and code server would pay ~0.7 s of a 3.4 s load for it.)
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    loaded = tree.build_defs(tree.defs_module_path)
    # One process per run: its steps (one asset, or the few that share a backfill range) run in it one
    # after another. Dagster's default would start a process per step, each importing and loading
    # this code location again: seconds of fixed cost per step on a small machine.
    return dg.Definitions.merge(loaded, dg.Definitions(executor=dg.in_process_executor))
