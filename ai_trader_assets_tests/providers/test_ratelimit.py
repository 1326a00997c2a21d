"""Rate limits hold across processes (measured by the server), and a spent quota fails at once."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ai_trader_assets.config import RateLimit
from ai_trader_assets.providers.base import QuotaExhaustedError
from ai_trader_assets.providers.ratelimit import RequestLimiter, rate_list
from ai_trader_assets_tests.support.polygon_server import PolygonServer, fixture

API_KEY = "ratelimit-test-key"
LIMIT = 5
REQUESTS_PER_PROCESS = 12

CLIENT = """
import sys, time
from pathlib import Path
from ai_trader_assets.config import RateLimit, load_config
from ai_trader_assets.providers.polygon import PolygonTransport
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret

url, state, key, limit, count, start_at = sys.argv[1:7]
spec = load_config().providers.providers["polygon"]
limiter = RequestLimiter("polygon", RateLimit(requests_per_second=int(limit), requests_per_minute=10_000,
                                               burst=int(limit)), Path(state))
transport = PolygonTransport(Secret(key), url, RequestGovernor("polygon", spec, limiter))
time.sleep(max(0.0, float(start_at) - time.time()))
for _ in range(int(count)):
    transport.get("/v2/aggs/grouped/locale/us/market/stocks/{date}",
                  "/v2/aggs/grouped/locale/us/market/stocks/2005-04-04")
"""


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


def test_two_processes_sharing_a_limit_never_exceed_it(tmp_path: Path) -> None:
    body = fixture("v2_aggs_grouped_locale_us_market_stocks_2005-04-04_adjusted_true.json")
    with PolygonServer(API_KEY) as server:
        server.respond("/v2/aggs/grouped/", *[body] * (2 * REQUESTS_PER_PROCESS))
        start_at = time.time() + 4  # both processes are imported and waiting by then
        args = [
            server.url,
            str(tmp_path / "limits"),
            API_KEY,
            str(LIMIT),
            str(REQUESTS_PER_PROCESS),
            str(start_at),
        ]
        processes = [subprocess.Popen([sys.executable, "-c", CLIENT, *args]) for _ in range(2)]
        for process in processes:
            assert process.wait(timeout=120) == 0
        arrivals = [r.at for r in server.requests]
    assert len(arrivals) == 2 * REQUESTS_PER_PROCESS
    assert max_in_any_window(arrivals, 1.0) <= LIMIT
    # ...and the limiter does not throttle far below the limit either.
    assert max(arrivals) - min(arrivals) < 2 * REQUESTS_PER_PROCESS / LIMIT + 2


def test_a_spent_daily_quota_fails_at_once_for_every_process(tmp_path: Path) -> None:
    spec = RateLimit(requests_per_second=100, requests_per_minute=1000, burst=100, daily_quota=3)
    first = RequestLimiter("polygon", spec, tmp_path)
    for _ in range(3):
        first.acquire()
    started = time.monotonic()
    with pytest.raises(QuotaExhaustedError, match="daily quota of 3 requests is used up"):
        first.acquire()
    assert time.monotonic() - started < 3.0  # failed at once, did not wait for the day to roll
    # Another limiter on the same state (as another process would be) sees the same quota.
    with pytest.raises(QuotaExhaustedError):
        RequestLimiter("polygon", spec, tmp_path).acquire()


def test_rate_list_keeps_only_binding_windows() -> None:
    def windows(rps: int, rpm: int, burst: int) -> list[tuple[int, int]]:
        return [
            (r.limit, r.interval)
            for r in rate_list(RateLimit(requests_per_second=rps, requests_per_minute=rpm, burst=burst))
        ]

    assert windows(10, 300, 10) == [(10, 1050), (300, 60050)]
    assert windows(5, 5, 5) == [(5, 60050)]  # 5 a minute already caps every second
    assert windows(100, 60000, 20) == [(20, 250)]  # burst spreads requests; the rest is implied


def test_limiters_start_no_background_thread_and_clear_old_entries_themselves(tmp_path: Path) -> None:
    # pyrate-limiter's leak thread (an event loop per limiter for the life of the process) would
    # multiply with every provider a process builds.
    before = threading.active_count()
    spec = RateLimit(requests_per_second=50, requests_per_minute=1_000, burst=50, daily_quota=100)
    limiters = [RequestLimiter("polygon", spec, tmp_path) for _ in range(5)]
    for limiter in limiters:
        limiter.acquire()
    assert threading.active_count() == before
    limiter = limiters[0]
    limiter._leaked_at -= 60  # as if the last clean-up were a minute ago
    limiter.acquire()  # cleans up: nothing is old enough to go yet, and the slot is counted
    assert time.monotonic() - limiter._leaked_at < 5
    counts = [bucket.count() for bucket in limiter._buckets]
    assert counts == [6, 6]  # five limiters share the file: 5 + the second acquire, in both buckets
