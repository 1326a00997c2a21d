"""The platform's YAML configuration, parsed into frozen pydantic models.

Five files live in the configuration folder (``AI_TRADER_CONFIG_DIR``, default ``<repo>/config``):
``layers.yaml``, ``retention.yaml``, ``providers.yaml``, ``pipeline.yaml`` and ``sentiment.yaml`` (one
module each here).
Every number the pipeline uses lives in exactly one of them; code reads it from here. A bad file
fails at load with the file, the key path and what was expected (:class:`ConfigError`).
"""

from ai_trader_assets.config.base import DEFAULT_CONFIG_DIR, REPO_ROOT, ConfigError
from ai_trader_assets.config.loading import PlatformConfig, cached_config, load_config
from ai_trader_assets.config.pipeline import (
    DatabasePoolSpec,
    IntradaySpec,
    LakeSpec,
    ScheduleSpec,
    UniverseSpec,
)
from ai_trader_assets.config.providers import (
    FLATFILE_KINDS,
    GROUPED_DAILY,
    SERVES,
    ProviderSpec,
    RateLimit,
    ReconciliationSpec,
    Retries,
)
from ai_trader_assets.config.retention import RetentionWindow

__all__ = [
    "DEFAULT_CONFIG_DIR",
    "FLATFILE_KINDS",
    "GROUPED_DAILY",
    "REPO_ROOT",
    "SERVES",
    "ConfigError",
    "DatabasePoolSpec",
    "IntradaySpec",
    "LakeSpec",
    "PlatformConfig",
    "ProviderSpec",
    "RateLimit",
    "ReconciliationSpec",
    "RetentionWindow",
    "Retries",
    "ScheduleSpec",
    "UniverseSpec",
    "cached_config",
    "load_config",
]
