"""Where each provider is and its keys, from the environment: what the factory builds providers with."""

import dataclasses

from ai_trader_assets.settings import DEFAULT_ALPACA_TRADING_URL, Secret, Settings

# Per provider, the variables that must be set for it to take part (Yahoo needs no key).
REQUIRED_VARIABLES: dict[str, tuple[str, ...]] = {
    "polygon": ("POLYGON_API_KEY",),
    "alpaca": ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"),
    "yahoo": (),
    "benzinga": ("BENZINGA_API_KEY",),
    "demo": (),
}


@dataclasses.dataclass(frozen=True)
class ProviderAccess:
    """Every provider's endpoint and keys (from the environment; keys stay :class:`Secret`)."""

    polygon_base_url: str
    alpaca_data_url: str
    yahoo_base_url: str
    benzinga_base_url: str
    polygon_api_key: Secret | None = None
    alpaca_api_key: Secret | None = None
    alpaca_secret_key: Secret | None = None
    benzinga_api_key: Secret | None = None
    alpaca_trading_url: str = DEFAULT_ALPACA_TRADING_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProviderAccess":
        return cls(
            polygon_base_url=settings.polygon_base_url,
            alpaca_data_url=settings.alpaca_data_url,
            alpaca_trading_url=settings.alpaca_trading_url,
            yahoo_base_url=settings.yahoo_base_url,
            benzinga_base_url=settings.benzinga_base_url,
            polygon_api_key=settings.polygon_api_key,
            alpaca_api_key=settings.alpaca_api_key,
            alpaca_secret_key=settings.alpaca_secret_key,
            benzinga_api_key=settings.benzinga_api_key,
        )

    def configured(self, name: str) -> bool:
        """Whether the provider's keys are set (a provider without them never takes part)."""
        keys = {
            "polygon": (self.polygon_api_key,),
            "alpaca": (self.alpaca_api_key, self.alpaca_secret_key),
            "benzinga": (self.benzinga_api_key,),
        }.get(name, ())
        return all(key is not None and key.reveal() for key in keys)
