"""The demo's trades: deterministic ticks that aggregate exactly to the demo's own 1-minute bars.

Each regular-hours minute of the demo's bars becomes its ``trade_count`` trades: the first at the
bar's open, the last at its close, one at its high and one at its low, the rest in pairs priced
symmetrically around the bar's typical price ``M = round((h + l + c) / 3, 4)`` with equal sizes, so
the pairs' volume-weighted price is ``M``. Sizes are ``volume // trade_count`` (the close takes the
remainder; pairs of pairs trade ``+d``/``-d`` shares), so open, high, low, close, volume, VWAP and
trade count of the trades are the bar's (the bar's VWAP is computed the same way: ``minute_vwap``).
Times are random instants inside the minute, in order. Besides: a few pre- and post-market trades
(condition 12, Form T), one trade printed wrong and corrected later in the feed (the correction
record has the same key and ``correction`` 1, and replaces it) and one cancelled trade
(``correction`` 8), which no bar counts.
"""

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from ai_trader_assets import calendar
from ai_trader_assets.datasets.ticks import trades_frame

EXCHANGES = np.array([4, 10, 11, 12, 8, 19, 15, 21], dtype=np.int64)  # FINRA TRF, NYSE, Arca, Nasdaq, ...
EXTENDED_HOURS_TRADES = 3  # before the open and after the close, each
NS_PER_MINUTE = 60_000_000_000
FIRST_SEQUENCE = 1_000

Uniform = Callable[[int, int], np.ndarray]  # (count, stream) -> uniforms in (0, 1)


def minute_vwap(
    *,
    opens: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
    closes: np.ndarray,
    volumes: np.ndarray,
    counts: np.ndarray,
) -> np.ndarray:
    """The VWAP of the trades :func:`symbol_trades` prints for each minute (closed form)."""
    typical = np.round((highs + lows + closes) / 3.0, 4)
    q = volumes // counts
    r = volumes - q * counts
    notional = q * (opens + highs + lows) + (q + r) * closes + typical * q * (counts - 4)
    return notional / volumes


def symbol_trades(  # noqa: PLR0915 - one vectorised construction, read top to bottom
    bars: pd.DataFrame, symbol: str, session: dt.date, random: Uniform, source: str
) -> pd.DataFrame:
    """The trades of one symbol-session from its regular-hours 1-minute bars (``trade_count`` >= 4)."""
    opens, highs, lows, closes = (bars[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close"))
    volumes = bars["volume"].to_numpy(dtype="float64")
    counts = bars["trade_count"].to_numpy(dtype=np.int64)
    minute_ns = bars["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ns]")
    minute_ns = minute_ns.astype(np.int64)
    typical = np.round((highs + lows + closes) / 3.0, 4)
    q = (volumes // counts).astype(np.int64)
    r = (volumes - q * counts).astype(np.int64)
    total = int(counts.sum())
    bar = np.repeat(np.arange(len(bars)), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    position = np.arange(total) - first[bar]
    n = counts[bar]
    # Where the high and the low print: two distinct positions strictly inside the minute.
    u = random(2 * len(bars), 5).reshape(2, -1)
    high_at = 1 + np.floor(u[0] * (counts - 2)).astype(np.int64)
    low_at = 1 + np.floor(u[1] * (counts - 3)).astype(np.int64)
    low_at = low_at + (low_at >= high_at)
    h, lo = high_at[bar], low_at[bar]
    middle = (position > 0) & (position < n - 1) & (position != h) & (position != lo)
    rank = position - 1 - (position > h).astype(np.int64) - (position > lo).astype(np.int64)
    k = n - 4
    pair = rank // 2
    single = middle & (k % 2 == 1) & (rank == k - 1)  # an odd one out prints at M
    paired = middle & ~single
    # One price offset per pair and one size shift per pair of pairs, drawn per (minute, pair).
    pairs = (counts - 4) // 2
    pair_index = np.r_[0, np.cumsum(pairs)[:-1]][bar] + pair
    spread = np.minimum(typical - lows, highs - typical)[bar]
    offset = np.round(random(int(pairs.sum()) + 1, 6)[np.where(paired, pair_index, 0)] * spread, 4)
    sign = np.where(rank % 2 == 0, -1.0, 1.0)
    price = np.where(paired, np.round(typical[bar] + sign * offset, 4), typical[bar])
    price = np.select(
        [position == 0, position == n - 1, position == h, position == lo],
        [opens[bar], closes[bar], highs[bar], lows[bar]],
        price,
    )
    quads = (pairs + 1) // 2
    quad_index = np.r_[0, np.cumsum(quads)[:-1]][bar] + pair // 2
    shift = np.floor(
        random(int(quads.sum()) + 1, 7)[np.where(paired, quad_index, 0)] * np.maximum(q[bar] - 1, 0)
    )
    partner = np.where(pair % 2 == 0, pair + 1, pair - 1)
    shifted = paired & (partner < pairs[bar])
    size = q[bar] + np.where(shifted, np.where(pair % 2 == 0, shift, -shift), 0).astype(np.int64)
    size = np.where(position == n - 1, q[bar] + r[bar], size).astype("float64")
    # Sorted random instants inside each minute: the open prints first, the close last.
    instants = (random(total, 8) * NS_PER_MINUTE).astype(np.int64)
    sip = minute_ns[bar] + instants[np.lexsort((instants, bar))]
    exchange = EXCHANGES[(random(total, 9) * len(EXCHANGES)).astype(np.int64)]
    conditions = np.where(random(total, 10) < 0.1, "14", "")  # intermarket sweeps update every field

    # Before the open and after the close: a few Form T trades near the day's first and last price.
    opened, closed = calendar.session_open_close(session)
    before = _ns(opened) - (1 + np.arange(EXTENDED_HOURS_TRADES)[::-1]) * 7 * NS_PER_MINUTE
    after = _ns(closed) + (1 + np.arange(EXTENDED_HOURS_TRADES)) * 11 * NS_PER_MINUTE
    extended_price = np.r_[
        np.full(EXTENDED_HOURS_TRADES, opens[0]), np.full(EXTENDED_HOURS_TRADES, closes[-1])
    ]
    sip = np.r_[before, sip, after]
    price = np.r_[extended_price[:EXTENDED_HOURS_TRADES], price, extended_price[EXTENDED_HOURS_TRADES:]]
    extra = 2 * EXTENDED_HOURS_TRADES
    size = np.r_[np.full(EXTENDED_HOURS_TRADES, 100.0), size, np.full(EXTENDED_HOURS_TRADES, 100.0)]
    exchange = np.r_[np.full(EXTENDED_HOURS_TRADES, 11), exchange, np.full(EXTENDED_HOURS_TRADES, 11)]
    conditions = np.r_[np.full(EXTENDED_HOURS_TRADES, "12"), conditions, np.full(EXTENDED_HOURS_TRADES, "12")]
    correction = np.full(total + extra, -1, dtype=np.int64)

    # One trade printed wrong first; its correction record (same key) follows at the end of the
    # feed. And one cancelled trade, in no bar.
    wrong = EXTENDED_HOURS_TRADES + int(random(1, 11)[0] * total)
    cancelled_at = EXTENDED_HOURS_TRADES + int(random(1, 12)[0] * total)
    printed = price.copy()
    printed[wrong] = np.round(price[wrong] * 1.01, 4)
    count = total + extra + 2
    prices = np.r_[printed, price[wrong], price[cancelled_at]]
    corrections = np.r_[correction, 1, 8]
    sequence = FIRST_SEQUENCE + np.r_[np.arange(total + extra), wrong, total + extra]
    cancelled_sip = sip[cancelled_at] + 1
    sips = np.r_[sip, sip[wrong], cancelled_sip]
    return trades_frame(
        np.full(count, symbol, dtype=object),
        sips,
        price=prices,
        size=np.r_[size, size[wrong], 100.0],
        exchange=np.r_[exchange, exchange[wrong], exchange[cancelled_at]],
        conditions=list(np.concatenate([conditions, [conditions[wrong], ""]])),
        trade_id=sequence.astype(str),
        source=source,
        participant_timestamp=sips - (50_000 + (random(count, 13) * 900_000).astype(np.int64)),
        tape=np.full(count, 3),
        sequence_number=sequence,
        correction=pd.Series(corrections).where(corrections >= 0).astype("Int64").array,
    )


def _ns(moment: dt.datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)
