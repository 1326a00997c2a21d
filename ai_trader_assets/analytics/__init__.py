"""Derived data computed from the datasets (plain Python, no Dagster)."""
