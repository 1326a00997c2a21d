"""Request limits that hold across threads and processes: per-second, per-minute, burst, daily quota.

The limits live in a small SQLite file per provider (pyrate-limiter's SQLite bucket behind a file
lock), so every process on the machine that points at the same ``AI_TRADER_HOME`` shares them.

Old entries are cleared ("leaked") by the limiter itself as it hands out slots, not by
pyrate-limiter's background thread: that thread (an event loop per limiter, for the life of the
process) multiplied with every provider built, each touching its SQLite connection every 10 s.
"""

import time
from pathlib import Path

from pyrate_limiter import Duration, Limiter, Rate, SingleBucketFactory, SQLiteBucket

from ai_trader_assets.config import RateLimit
from ai_trader_assets.providers.base import ProviderUnavailableError, QuotaExhaustedError

DAY_MS = int(Duration.DAY)
# Windows are padded so that network jitter between acquiring a slot and the request reaching the
# provider cannot squeeze one request too many into the provider's own one-second window.
SAFETY_MS = 50
QUOTA_LOCK_SECONDS = 0.5
LEAK_EVERY_SECONDS = 10.0  # pyrate-limiter's own leak interval


def _limiter(rates: list[Rate], table: str, db_path: Path) -> tuple[Limiter, SQLiteBucket]:
    """A limiter on a shared SQLite bucket, without the background leak thread."""
    bucket = SQLiteBucket.init_from_file(rates, table=table, db_path=str(db_path), use_file_lock=True)
    limiter = Limiter(SingleBucketFactory(bucket, schedule_leak=False))
    # What Limiter does when handed the bucket itself: hold the bucket's file lock too, so that
    # processes sharing the file take turns.
    file_lock = bucket.limiter_lock()  # type: ignore[no-untyped-call]
    if file_lock is not None:
        limiter.lock = (file_lock, limiter.lock)
    return limiter, bucket


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
        self._limiter, bucket = _limiter(rate_list(spec), "requests", state_dir / f"{provider}.sqlite")
        self._buckets = [bucket]
        self._quota: Limiter | None = None
        self.daily_quota = spec.daily_quota
        if spec.daily_quota is not None:
            self._quota, quota_bucket = _limiter(
                [Rate(spec.daily_quota, DAY_MS)], "daily_quota", state_dir / f"{provider}.quota.sqlite"
            )
            self._buckets.append(quota_bucket)
        self._leaked_at = time.monotonic()

    def _leak(self) -> None:
        """Drop entries older than every window (they no longer count), at most every 10 s."""
        if time.monotonic() - self._leaked_at < LEAK_EVERY_SECONDS:
            return
        self._leaked_at = time.monotonic()
        for bucket in self._buckets:
            bucket.leak(bucket.now())  # type: ignore[no-untyped-call]

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
        self._leak()
        if not self._limiter.try_acquire(self.provider, blocking=True, timeout=self.max_wait_seconds):
            raise ProviderUnavailableError(
                f"{self.provider}: no request slot within {self.max_wait_seconds:.0f} s"
            )
