"""Provider benchmark: parse speed against the SDK-style baseline, and request counts for a backfill.

Run from the repository root: .venv/bin/python -m benchmarks.providers
Everything is measured in this run, against a local server speaking the Polygon API (machines are
noisy, so only the ratios mean anything):
1. rows/s for one session of 1-minute bars for 50 and 2,000 symbols: our column parser versus a naive
   baseline that, like the SDK's typed models, builds one Python object per bar (massive's Agg);
2. provider requests for a 20-session daily backfill of a 10,000-symbol layer: the grouped-daily
   endpoint versus per-symbol aggregates (measured per symbol on a sample, then scaled).
"""

import datetime as dt
import tempfile
import time
from pathlib import Path

import orjson
import pandas as pd
from massive.rest.models import Agg

from ai_trader_assets import calendar
from ai_trader_assets.config import RateLimit, load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.providers.http import RequestGovernor
from ai_trader_assets.providers.polygon import AGGREGATES, PolygonProvider, PolygonTransport, parse_aggregates
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret
from ai_trader_assets_tests.support.polygon_server import PolygonServer, bars_json

KEY = "benchmark-key"
SESSION = dt.date(2026, 11, 20)


def provider_for(server: PolygonServer, state: Path) -> tuple[PolygonProvider, PolygonTransport]:
    spec = load_config().providers.providers["polygon"]
    unlimited = RateLimit(requests_per_second=100_000, requests_per_minute=6_000_000, burst=100_000)
    limiter = RequestLimiter("polygon", unlimited, state)
    transport = PolygonTransport(Secret(KEY), server.url, RequestGovernor("polygon", spec, limiter))
    return PolygonProvider(transport, spec), transport


def naive_bars(transport: PolygonTransport, symbols: list[str]) -> pd.DataFrame:
    """The baseline: one typed Python object per bar, then a frame from the objects."""
    objects: list[tuple[str, Agg]] = []
    for symbol in symbols:
        path = AGGREGATES.format(
            ticker=symbol, multiplier=1, timespan="minute", **{"from": "2026-11-20", "to": "2026-11-20"}
        )
        for page in transport.paginate(
            AGGREGATES, path, {"adjusted": "false", "sort": "asc", "limit": 50000}
        ):
            objects.extend((symbol, Agg.from_dict(row)) for row in page.body["results"])
    return frame_from_objects(objects)


def frame_from_objects(objects: list[tuple[str, Agg]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": [s for s, _ in objects],
            "ts": pd.to_datetime([a.timestamp for _, a in objects], unit="ms", utc=True),
            "open": [a.open for _, a in objects],
            "high": [a.high for _, a in objects],
            "low": [a.low for _, a in objects],
            "close": [a.close for _, a in objects],
            "volume": [a.volume for _, a in objects],
            "vwap": [a.vwap for _, a in objects],
            "trade_count": [a.transactions for _, a in objects],
        }
    )


def time_it(function, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def minutes(symbol: str) -> pd.DataFrame:
    return session_bars([symbol], SESSION, Dataset.BARS_1MIN)


def parse_only(symbols_count: int) -> None:
    """Parsing alone (no HTTP): bodies decoded and turned into frames."""
    bodies = [
        orjson.dumps(
            {
                "status": "OK",
                "resultsCount": 390,
                "results": bars_json(session_bars([f"S{i}"], SESSION, Dataset.BARS_1MIN)),
            }
        )
        for i in range(symbols_count)
    ]

    def ours_parse() -> None:
        rows: list[dict[str, object]] = []
        symbols: list[str] = []
        for i, body in enumerate(bodies):
            page = orjson.loads(body)["results"]
            rows.extend(page)
            symbols.extend([f"S{i}"] * len(page))
        frame, rejects = parse_aggregates(rows, symbols)
        assert rejects.empty and len(frame) == len(rows)

    ours = time_it(ours_parse)

    def naive_parse() -> None:
        objects = [
            (f"S{i}", Agg.from_dict(r)) for i, b in enumerate(bodies) for r in orjson.loads(b)["results"]
        ]
        frame_from_objects(objects)

    naive = time_it(naive_parse)
    rows = 390 * symbols_count
    print(
        f"  parse only, {symbols_count} symbols: ours {rows / ours:,.0f} rows/s, "
        f"per-object {rows / naive:,.0f} rows/s, ratio {naive / ours:.2f}x"
    )


def main() -> None:
    print("1) one session of 1-minute bars from the local server")
    with tempfile.TemporaryDirectory() as state, PolygonServer(KEY, cache_responses=True) as server:
        provider, transport = provider_for(server, Path(state))
        for count in (50, 2000):
            symbols = [f"S{i:04d}" for i in range(count)]
            provider.bars(symbols, Dataset.BARS_1MIN, SESSION, SESSION)  # warm the server's cache
            repeat = 3 if count <= 50 else 1
            ours = time_it(
                lambda symbols=symbols: provider.bars(symbols, Dataset.BARS_1MIN, SESSION, SESSION), repeat
            )
            naive = time_it(lambda symbols=symbols: naive_bars(transport, symbols), repeat)
            rows = 390 * count
            print(
                f"  {count:>5} symbols: ours {rows / ours:>10,.0f} rows/s | per-object baseline "
                f"{rows / naive:>10,.0f} rows/s | ratio {naive / ours:.2f}x"
            )
    parse_only(200)

    print("2) requests for a 20-session daily backfill of a 10,000-symbol layer")
    sessions = calendar.sessions(dt.date(2026, 10, 1), dt.date(2026, 11, 20))[-20:]
    with (
        tempfile.TemporaryDirectory() as state,
        PolygonServer(KEY, market=[f"S{i:05d}" for i in range(100)]) as server,
    ):
        provider, _ = provider_for(server, Path(state))
        for session in sessions:
            provider.grouped_daily_bars(session, [f"S{i:05d}" for i in range(10_000)])
        grouped = len(server.requests)
        server.requests.clear()
        sample = [f"S{i:05d}" for i in range(200)]
        provider.bars(sample, Dataset.BARS_1DAY, sessions[0], sessions[-1])
        per_symbol = len(server.requests) / len(sample) * 10_000
    print(
        f"  grouped-daily: {grouped} requests | per-symbol aggregates: {per_symbol:,.0f} requests "
        f"(measured {per_symbol / 10_000:.2f} per symbol) | {per_symbol / grouped:,.0f}x fewer with grouped"
    )


if __name__ == "__main__":
    main()
