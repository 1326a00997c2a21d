"""Planning, no Dagster: what to fetch and how to cut it into runs. Qualification events into
backfill requests, a CLI backfill's plan and its launch, gap healing, the universe sync's plan, and
when the trading session is refreshed."""
