"""The universe: layer 0 from the primary provider's reference list."""
