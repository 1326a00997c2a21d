"""Market data: partitioned assets, the hot/cold IO manager, checks and retention."""
