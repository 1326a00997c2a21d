"""Operations, no Dagster: what the platform reports about itself (``ai-trader status``) and the
cross-provider reconciliation of stored daily bars."""
