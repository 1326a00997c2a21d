"""``retention.yaml``: per layer and dataset the hot and cold windows (calendar days back from today)
and the demotion grace period."""

import datetime as dt

from pydantic import field_validator, model_validator

from ai_trader_assets.config.base import Days, Frozen, LayerId
from ai_trader_assets.config.layers import require_every_layer
from ai_trader_assets.datasets import Dataset


class RetentionWindow(Frozen):
    hot_days: Days
    cold_days: Days
    intentional_reduction: str | None = None

    @model_validator(mode="after")
    def _hot_within_cold(self) -> "RetentionWindow":
        if self.hot_days > self.cold_days:
            raise ValueError(
                f"hot_days ({self.hot_days}) must not exceed cold_days ({self.cold_days}): "
                "hot data is also kept cold"
            )
        return self

    def is_hot(self, session: dt.date, today: dt.date) -> bool:
        """Whether a session belongs in hot storage (calendar days, counted back from today)."""
        return (today - session).days < self.hot_days

    def is_kept(self, session: dt.date, today: dt.date) -> bool:
        """Whether a session is kept at all (cold storage keeps the hot window too)."""
        return (today - session).days < self.cold_days


class RetentionFile(Frozen):
    demotion_grace_days: Days
    layers: dict[LayerId, dict[Dataset, RetentionWindow]]

    @field_validator("layers")
    @classmethod
    def _all_layers(
        cls, value: dict[int, dict[Dataset, RetentionWindow]]
    ) -> dict[int, dict[Dataset, RetentionWindow]]:
        require_every_layer(value)
        return value
