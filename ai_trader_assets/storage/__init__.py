"""Plain-Python storage: the market database (hot), the Parquet lake (cold), and their repositories.

Nothing here imports Dagster; the resources in ``defs/`` wrap these classes.
"""
