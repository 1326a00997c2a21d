"""Cold storage: the lake's location, its tables, their commits, maintenance and migration."""

from ai_trader_assets.storage.lake.location import Lake, LakeError

__all__ = ["Lake", "LakeError"]
