"""The Yahoo provider: Yahoo Finance's chart endpoint, called directly (no ``yfinance``), no key.

Every request is ``GET {YAHOO_BASE_URL}/v8/finance/chart/{symbol}?period1=<unix>&period2=<unix>&
interval=<1d|5m|1m>&events=div,splits&includePrePost=false`` through our :class:`JsonTransport`
(shared rate limiter, classified retries, one :class:`ProviderCall` per request). Yahoo has no
grouped or multi-symbol endpoint and no pagination: one request per symbol (per window for 1-minute
bars). The endpoint is unofficial and meant for personal use; no cookie or crumb is sent, only an
honest User-Agent (Yahoo turns library default agents away with 429s).

What it serves:

* ``bars_1day`` (and ``grouped_daily_bars``: one request per symbol for that session), any range.
* ``bars_5min`` for sessions within the last 60 days, ``bars_1min`` within the last 30 days (at most
  8 days per request, so longer ranges become several requests), ``bars_1hour`` within the last 60
  days, **built by resampling 5-minute bars into clock hours** (Yahoo's own 60m bars start at :30;
  ours are clock hours in New York, the 9:00 bar covering 9:30-10:00). Outside a window the methods
  raise :class:`NotServedError` naming the window, before any request, so failover moves on.
  "Today" is New York's date (``today`` is injectable for tests).
* ``corporate_actions``: splits (``numerator``/``denominator`` -> ``split_to``/``split_from``) and
  cash dividends (``amount``, currency from ``meta.currency``) from the same endpoint's events; ids
  are synthesized (``yahoo-split-AAPL-2020-08-31``) since Yahoo has none. ``news`` is not served.

Prices are stored **raw** (as traded, like Polygon with ``adjusted=false``). Traps handled:

* Yahoo's open/high/low/close (intraday too) and dividend amounts are split-adjusted retroactively
  for every split up to today, while a response lists only the splits inside its own range. So daily
  and corporate-action requests run through today + 1 day, and intraday requests are preceded by one
  daily request per symbol from the first session through today + 1 day (a split probe); every split
  listed whose date is after a bar (or dividend) is undone: prices and amounts x ratio, volume / ratio.
  A split with an unusable ratio makes the bars (dividends) before it rejects, never guesses.
* Prices are float32 noise (75.0875015258789): after undoing splits they are rounded to 7
  significant digits (float32 carries ~7.2, so this recovers the decimal Yahoo stored, e.g. sub-penny
  prices above $100, which 6 digits would cut), volumes to whole shares.
* ``adjclose`` (split and dividend adjusted) is ignored; ``vwap`` is NaN and ``trade_count`` NA
  (Yahoo gives neither).
* Daily timestamps are the session open (14:30Z/13:30Z), sometimes the last trade time for a live
  bar: the session is the New York date, stored as ``session_midnight_utc(session)``.
* Rows outside the requested sessions (the extra history through today, a live partial bar past
  ``end``) are dropped as not asked for; inside the requested range, a row on a non-session date or
  (intraday) outside regular hours is a reject with its reason.
* Null rows (every price null, common on Yahoo) are not bars: rejects with a reason, never silently
  dropped. Rows failing :func:`bar_problems` (high < low, missing values, ...) become rejects keeping
  Yahoo's raw values.
* Empty ranges come without ``timestamp`` and with ``quote: [{}]``: an empty frame.
* ``chart.error`` in a body is a :class:`ProviderError` naming Yahoo's code and description, except
  "Not Found" (HTTP 404 "No data found, symbol may be delisted"): that symbol yields no rows and one
  reject saying so, and the other symbols go on. A 404 without Yahoo's error body (a wrong base URL)
  stays an error. Arrays of different lengths are an error, never a short result.
* 429 (``Retry-After`` honoured), 5xx, timeouts and cut-off bodies are retried by the governor;
  401/403 mean the endpoint refused this client (there is no key to check).

Modules: :mod:`.client` (the provider and its transport), :mod:`.chart` (parsing a chart response).
"""

from ai_trader_assets.providers.yahoo.chart import round_significant
from ai_trader_assets.providers.yahoo.client import CLIENT_USER_AGENT, YahooProvider

__all__ = ["CLIENT_USER_AGENT", "YahooProvider", "round_significant"]
