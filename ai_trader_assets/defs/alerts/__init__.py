"""Alerts: failed runs and checks, late data, failing sensors and schedules and the guards, told once
through ``ai_trader_assets.ops.alerts`` (Slack, e-mail, a JSON webhook)."""
