"""Request limits that hold across threads and processes: per-second, per-minute, burst, daily quota.

The limits live in a small SQLite file per provider (pyrate-limiter's SQLite bucket behind a file
lock), so every process on the machine that points at the same ``AI_TRADER_HOME`` shares them.
"""

from pathlib import Path

from pyrate_limiter import Duration, Limiter, Rate, SQLiteBucket

from ai_trader_assets.config import RateLimit
from ai_trader_assets.providers.base import ProviderError, QuotaExhaustedError

DAY_MS = int(Duration.DAY)
# Windows are padded so that network jitter between acquiring a slot and the request reaching the
# provider cannot squeeze one request too many into the provider's own one-second window.
SAFETY_MS = 50
QUOTA_LOCK_SECONDS = 0.5


def rate_list(spec: RateLimit) -> list[Rate]:
    """The sliding-window rates of a limit, without redundant ones (pyrate-limiter requires that).

    ``burst`` below the per-second rate spreads requests out: at most ``burst`` of them in any
    ``burst / requests_per_second`` seconds, the sliding-window form of a token bucket.
    """
    candidates: list[Rate] = []
    if spec.burst < spec.requests_per_second:
        candidates.append(Rate(spec.burst, 1000 * spec.burst // spec.requests_per_second + SAFETY_MS))
    candidates.append(Rate(spec.requests_per_second, int(Duration.SECOND) + SAFETY_MS))
    candidates.append(Rate(spec.requests_per_minute, int(Duration.MINUTE) + SAFETY_MS))
    # Drop a rate when a longer window already allows no more requests (it implies the shorter one).
    kept = [
        r for i, r in enumerate(candidates) if all(later.limit > r.limit for later in candidates[i + 1 :])
    ]
    # Drop a rate whose long-run ratio is no stricter than a shorter window's.
    result: list[Rate] = []
    for rate in kept:
        if not result or rate.limit / rate.interval < result[-1].limit / result[-1].interval:
            result.append(rate)
    return result


class RequestLimiter:
    """Blocks until a request may go out; raises when the daily quota is spent.

    Args:
        provider: Provider name (one state file each).
        spec: The limits from ``providers.yaml``.
        state_dir: Folder of the shared state files (``$AI_TRADER_HOME/ratelimits``).
        max_wait_seconds: Longest a caller waits for a slot before failing.
    """

    def __init__(
        self, provider: str, spec: RateLimit, state_dir: Path, max_wait_seconds: float = 600
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.provider = provider
        self.max_wait_seconds = max_wait_seconds
        self._limiter = Limiter(
            SQLiteBucket.init_from_file(
                rate_list(spec),
                table="requests",
                db_path=str(state_dir / f"{provider}.sqlite"),
                use_file_lock=True,
            )
        )
        self._quota: Limiter | None = None
        self.daily_quota = spec.daily_quota
        if spec.daily_quota is not None:
            self._quota = Limiter(
                SQLiteBucket.init_from_file(
                    [Rate(spec.daily_quota, DAY_MS)],
                    table="daily_quota",
                    db_path=str(state_dir / f"{provider}.quota.sqlite"),
                    use_file_lock=True,
                )
            )

    def acquire(self) -> None:
        """Take one request slot (waits for the rate; never waits for the daily quota)."""
        # blocking=False trips over filelock 4's acquire signature inside pyrate-limiter, and a zero
        # timeout fails spuriously when another thread holds the lock for a moment; a short timeout
        # waits for the lock, never for the day-long window (a spent quota returns False at once).
        if self._quota is not None and not self._quota.try_acquire(self.provider, timeout=QUOTA_LOCK_SECONDS):
            raise QuotaExhaustedError(
                f"{self.provider}: the daily quota of {self.daily_quota} requests is used up "
                "(providers.yaml rate_limit.daily_quota); try again when the 24-hour window rolls"
            )
        if not self._limiter.try_acquire(self.provider, blocking=True, timeout=self.max_wait_seconds):
            raise ProviderError(f"{self.provider}: no request slot within {self.max_wait_seconds:.0f} s")
