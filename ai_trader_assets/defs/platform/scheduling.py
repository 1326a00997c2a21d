"""A job on its ``pipeline.yaml`` schedule, running by default: how the platform's housekeeping jobs
(retention, lake maintenance) are scheduled."""

import dagster as dg

from ai_trader_assets.config import ScheduleSpec


def on_schedule(job: dg.JobDefinition, name: str, spec: ScheduleSpec) -> dg.Definitions:
    """The job and a schedule named ``name`` running it at ``spec``'s cron, in its time zone."""
    return dg.Definitions(
        jobs=[job],
        schedules=[
            dg.ScheduleDefinition(
                name=name,
                job=job,
                cron_schedule=spec.cron,
                execution_timezone=spec.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
