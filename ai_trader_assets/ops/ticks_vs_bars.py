"""The ``ticks_match_bars`` check: 1-minute bars rebuilt from the stored trades (by the condition
rules of :mod:`ai_trader_assets.read.intervals`) against the stored 1-minute bars of the same symbols
and sessions.

On demo data the two agree exactly (the demo prints its trades from its bars). On real data they
differ a little: providers build their bars from their own trade feed and rules, late prints and
corrections arrive after the bars were built. So a minute *matches* when open/high/low/close agree
within ``PRICE_TOLERANCE`` (relative) and volume within ``VOLUME_TOLERANCE``; the check passes when
at most ``MAX_MISMATCHED_SHARE`` of the minutes compared do not match, and reports the worst
differences either way.
"""

import dataclasses

import polars as pl

from ai_trader_assets.read.intervals import bars_from_trades

PRICE_TOLERANCE = 0.001
VOLUME_TOLERANCE = 0.05
MAX_MISMATCHED_SHARE = 0.02
PRICES = ("open", "high", "low", "close")


@dataclasses.dataclass
class MinuteMatch:
    """The comparison so far (one symbol-session is added at a time)."""

    compared: int = 0  # minutes present on both sides
    mismatched: int = 0
    only_trades: int = 0  # minutes rebuilt from trades with no stored bar
    only_bars: int = 0  # stored bars with no trade that sets a price
    max_price_diff: float = 0.0  # relative
    max_volume_diff: float = 0.0  # relative
    worst: list[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        total = self.compared + self.only_trades + self.only_bars
        bad = self.mismatched + self.only_trades + self.only_bars
        return total == 0 or bad <= MAX_MISMATCHED_SHARE * total

    def add(self, trades: pl.DataFrame, bars: pl.DataFrame) -> None:
        """Compare one batch: trades (``ticks`` columns with ``session``) and the stored 1-minute bars
        of the same symbols and sessions (regular hours)."""
        rebuilt = bars_from_trades(trades, 60)
        joined = rebuilt.join(
            bars.select("symbol", "ts", *PRICES, "volume"),
            on=["symbol", "ts"],
            how="full",
            suffix="_bar",
            coalesce=True,
        )
        only_trades = joined.filter(pl.col("open_bar").is_null())
        only_bars = joined.filter(pl.col("open").is_null())
        both = joined.filter(pl.col("open").is_not_null() & pl.col("open_bar").is_not_null())
        self.only_trades += only_trades.height
        self.only_bars += only_bars.height
        self.compared += both.height
        if both.is_empty():
            return
        price_diff = pl.max_horizontal(
            *[((pl.col(p) - pl.col(f"{p}_bar")).abs() / pl.col(f"{p}_bar")) for p in PRICES]
        )
        volume_diff = (pl.col("volume") - pl.col("volume_bar")).abs() / pl.max_horizontal(
            pl.col("volume_bar"), 1.0
        )
        scored = both.with_columns(price_diff.alias("price_diff"), volume_diff.alias("volume_diff"))
        bad = scored.filter(
            (pl.col("price_diff") > PRICE_TOLERANCE) | (pl.col("volume_diff") > VOLUME_TOLERANCE)
        )
        self.mismatched += bad.height
        worst = scored.select(pl.col("price_diff").max(), pl.col("volume_diff").max()).row(0)
        self.max_price_diff = max(self.max_price_diff, float(worst[0] or 0.0))
        self.max_volume_diff = max(self.max_volume_diff, float(worst[1] or 0.0))
        for row in bad.sort("price_diff", descending=True).head(5).iter_rows(named=True):
            if len(self.worst) < 10:
                self.worst.append(
                    f"{row['symbol']} {row['ts']:%Y-%m-%d %H:%M}: price diff {row['price_diff']:.4%}, "
                    f"volume diff {row['volume_diff']:.2%}"
                )

    def metadata(self) -> dict[str, str | int | float]:
        return {
            "minutes compared": self.compared,
            "minutes mismatched": self.mismatched,
            "minutes with trades but no stored bar": self.only_trades,
            "stored bars without a price-setting trade": self.only_bars,
            "max price difference (relative)": self.max_price_diff,
            "max volume difference (relative)": self.max_volume_diff,
            "tolerances": f"price {PRICE_TOLERANCE:.2%}, volume {VOLUME_TOLERANCE:.0%}, "
            f"mismatched minutes at most {MAX_MISMATCHED_SHARE:.0%}",
            "worst minutes": "; ".join(self.worst) or "-",
        }
