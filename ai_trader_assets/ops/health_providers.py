"""``ai-trader health --probe-providers``: one cheap authenticated request per configured provider.

The configured providers are the primary (``AI_TRADER_PROVIDER``) and every provider of a failover
list whose keys are set. Each gets the cheapest request that proves its key: one symbol's daily bar
of one session (news of that session for Benzinga, which serves news only), through the provider's
own client and request governor, so the shared rate limiter counts it, and ``provider_stats`` (the
metrics' provider series) records it like any request. One attempt, with
``probe_timeout_seconds`` as the read timeout: a probe reports, it does not retry for minutes.
A refused key is down (the message names the variable, never the key); a timeout, 5xx or 429 is
degraded. Reddit is not probed: its cheapest read lists every configured subreddit.
"""

import datetime as dt
import time

from ai_trader_assets import calendar
from ai_trader_assets.config import SERVES, PlatformConfig
from ai_trader_assets.config.pipeline import HealthSpec
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ops.health_report import Check, Status, check, first_line
from ai_trader_assets.providers.base import (
    AuthenticationError,
    ProviderError,
    ProviderResult,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.factory import build_single
from ai_trader_assets.providers.http import RequestRecorder
from ai_trader_assets.settings import SOCIAL_PROVIDERS, Settings
from ai_trader_assets.storage.provider_stats import ProviderStatsRecorder


def configured_providers(settings: Settings, config: PlatformConfig) -> list[str]:
    """The primary first, then the failover providers whose keys are set (social sources apart)."""
    names: list[str] = [settings.provider]
    if settings.provider != "demo":
        for order in config.providers.failover.values():
            names += [n for n in order if n not in names and settings.access.configured(n)]
    return [n for n in names if n not in SOCIAL_PROVIDERS]


def probe_config(config: PlatformConfig, spec: HealthSpec) -> PlatformConfig:
    """The configuration with one attempt per request and the probe's read timeout."""
    quick = {
        name: provider.model_copy(
            update={
                "retries": provider.retries.model_copy(update={"max_attempts": 1}),
                "timeouts": provider.timeouts.model_copy(
                    update={
                        "connect_seconds": min(provider.timeouts.connect_seconds, spec.probe_timeout_seconds),
                        "read_seconds": spec.probe_timeout_seconds,
                    }
                ),
            }
        )
        for name, provider in config.providers.providers.items()
    }
    providers = config.providers.model_copy(update={"providers": quick})
    return config.model_copy(update={"providers": providers})


def provider_checks(
    settings: Settings, config: PlatformConfig, spec: HealthSpec, now: dt.datetime
) -> list[Check]:
    """One probe per configured provider, about the latest session closed at ``now``."""
    session = calendar.session_on_or_before(now.astimezone(calendar.NEW_YORK).date())
    if not calendar.has_closed(session, now):
        session = calendar.previous_session(session)
    quick = probe_config(config, spec)
    recorder = ProviderStatsRecorder(settings.database_url)  # a write that fails only logs a warning
    try:
        return [
            probe(name, settings, quick, spec.probe_symbol, session, recorder)
            for name in configured_providers(settings, config)
        ]
    finally:
        recorder.close()


def probe(  # noqa: PLR0917 - the probe's inputs, each needed
    name: str,
    settings: Settings,
    config: PlatformConfig,
    symbol: str,
    session: dt.date,
    recorder: RequestRecorder | None = None,
) -> Check:
    """One request to ``name`` for ``symbol`` on ``session``."""
    labels = {"provider": name}
    started = time.perf_counter()
    try:
        provider = build_single(
            name, config, settings.access, settings.home / "ratelimits", recorder=recorder
        )
        result: ProviderResult
        if Dataset.BARS_1DAY in SERVES[name]:
            what = f"{symbol}'s daily bar of {session}"
            result = provider.bars([symbol], Dataset.BARS_1DAY, session, session)
        else:
            what = f"news of {symbol} on {session}"
            opens, closes = calendar.session_open_close(session)
            result = provider.news([symbol], opens, closes)
    except AuthenticationError as exc:
        return check("provider", Status.DOWN, first_line(exc), labels=labels)
    except ProviderUnavailableError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return check(
            "provider", Status.DEGRADED, first_line(exc), value=elapsed, unit="milliseconds", labels=labels
        )
    except ProviderError as exc:
        return check("provider", Status.DEGRADED, first_line(exc), labels=labels)
    elapsed = (time.perf_counter() - started) * 1000
    return check(
        "provider",
        Status.OK,
        f"{what}: {len(result.frame)} row(s) in {elapsed:.0f} ms",
        value=elapsed,
        unit="milliseconds",
        labels=labels,
    )
