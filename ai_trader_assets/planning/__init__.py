"""Planning, no Dagster: what to fetch, and how to cut it into runs and into slices within a run."""
