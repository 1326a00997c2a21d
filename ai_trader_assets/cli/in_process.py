"""Running a planned backfill's runs in this process, recorded in the Dagster instance (so the UI lists
them): ``ai-trader backfill`` without a webserver. Imported only by that command (it loads Dagster and
the code location)."""

import dagster as dg

from ai_trader_assets.planning.backfill_launch import PlannedRun
from ai_trader_assets.run_tags import LAUNCHED_BY_TAG


class InProcessRunner:
    """Executes planned runs in this process, recorded in the Dagster instance (so the UI lists them)."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions) -> None:
        self.instance = instance
        self.job = definitions.resolve_implicit_global_asset_job_def()

    def execute(self, run: PlannedRun) -> tuple[str, bool]:
        """Run one range; returns the run id and whether it succeeded."""
        result = self.job.execute_in_process(
            instance=self.instance,
            asset_selection=[dg.AssetKey(d.value) for d in run.datasets],
            tags={**run.tags, **run.range_tags, LAUNCHED_BY_TAG: "cli"},
            # The run's full log is in the instance (the UI shows it); the terminal shows progress.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
        return result.run_id, result.success
