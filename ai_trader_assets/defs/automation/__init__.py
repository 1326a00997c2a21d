"""Automation: the qualification sensor, daily schedules and the backfills they launch."""
