"""Reconciliation of stored daily bars with a second provider: the comparison itself (no servers)."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ai_trader_assets.calendar import session_midnight_utc
from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.ops.reconciliation import Reconciler, compare, reference_for, sample
from ai_trader_assets.providers.demo import DemoProvider
from ai_trader_assets.providers.demo_bars import session_bars
from ai_trader_assets.storage.database import MarketDatabase

SPEC = load_config().providers.reconciliation
SESSIONS = [dt.date(2026, 11, 17), dt.date(2026, 11, 18), dt.date(2026, 11, 19)]
SYMBOLS = ["AAPL", "MSFT"]


def daily(source: str) -> pd.DataFrame:
    frame = pd.concat([session_bars(SYMBOLS, s, Dataset.BARS_1DAY) for s in SESSIONS], ignore_index=True)
    return frame.assign(source=source)


def pairs() -> list[tuple[dt.date, str]]:
    return [(s, m) for s in SESSIONS for m in SYMBOLS]


def test_identical_feeds_agree() -> None:
    assert compare(daily("polygon"), daily("alpaca"), pairs(), "alpaca", SPEC) == []


def test_a_close_off_by_five_percent_is_one_divergence_naming_both_sides() -> None:
    reference = daily("alpaca")
    shifted = (reference["symbol"] == "MSFT") & (reference["ts"] == session_midnight_utc(SESSIONS[1]))
    reference.loc[shifted, "close"] *= 1.05
    found = compare(daily("polygon"), reference, pairs(), "alpaca", SPEC)
    assert [(d.session, d.symbol, d.field, d.provider_a, d.provider_b) for d in found] == [
        (SESSIONS[1], "MSFT", "close", "polygon", "alpaca")
    ]
    assert abs(found[0].relative - 0.05 / 1.05) < 1e-9
    assert "MSFT 2026-11-18 close: polygon" in found[0].describe()


def test_volume_within_its_tolerance_passes_and_beyond_fails() -> None:
    reference = daily("alpaca")
    reference["volume"] *= 1 + SPEC.volume_tolerance / 2  # consolidated feeds differ a little
    assert compare(daily("polygon"), reference, pairs(), "alpaca", SPEC) == []
    reference["volume"] = daily("alpaca")["volume"] * 0.04  # a single-exchange (iex) feed
    found = compare(daily("polygon"), reference, pairs(), "alpaca", SPEC)
    assert {d.field for d in found} == {"volume"} and len(found) == len(pairs())


def test_a_session_either_side_lacks_is_a_divergence() -> None:
    stored, reference = daily("polygon"), daily("alpaca")
    stored = stored[~((stored["symbol"] == "AAPL") & (stored["ts"] == session_midnight_utc(SESSIONS[0])))]
    reference = reference[
        ~((reference["symbol"] == "MSFT") & (reference["ts"] == session_midnight_utc(SESSIONS[2])))
    ]
    found = {(d.symbol, d.session): d for d in compare(stored, reference, pairs(), "alpaca", SPEC)}
    assert set(found) == {("AAPL", SESSIONS[0]), ("MSFT", SESSIONS[2])}
    assert found[("AAPL", SESSIONS[0])].value_a is None and found[("AAPL", SESSIONS[0])].value_b is not None
    assert found[("MSFT", SESSIONS[2])].value_b is None
    assert found[("AAPL", SESSIONS[0])].provider_a == "polygon"  # the symbol's stored source
    assert "stored (polygon) has no bar" in found[("AAPL", SESSIONS[0])].describe()


def test_the_sample_is_deterministic_per_session_and_varies_between_sessions() -> None:
    universe = [f"S{i:03d}" for i in range(200)]
    first = sample(universe, SESSIONS[0], 10)
    assert first == sample(reversed(universe), SESSIONS[0], 10) and len(first) == 10
    assert first != sample(universe, SESSIONS[1], 10)
    assert sample(["AAPL"], SESSIONS[0], 10) == ["AAPL"]


def test_the_reference_is_never_the_rows_own_source() -> None:
    configured = {"alpaca", "yahoo"}.__contains__
    spec = SPEC.model_copy(update={"against": ("alpaca", "yahoo")})
    assert reference_for("polygon", spec, configured) == "alpaca"
    assert reference_for("alpaca", spec, configured) == "yahoo"
    assert reference_for("alpaca", spec, {"alpaca"}.__contains__) is None


def test_each_row_is_compared_with_a_provider_other_than_its_own_source(market_db: MarketDatabase) -> None:
    # A failover mixed the sources of MSFT's bars: alpaca's rows are compared with polygon, polygon's
    # with alpaca — never a provider with itself. (Both references answer with the demo's bars.)
    stored = daily("polygon")
    alpaca_rows = (stored["symbol"] == "MSFT") & (stored["ts"] >= session_midnight_utc(SESSIONS[1]))
    stored.loc[alpaca_rows, "source"] = "alpaca"
    stored.loc[alpaca_rows & (stored["ts"] == session_midnight_utc(SESSIONS[2])), "close"] *= 1.03
    asked: list[tuple[str, tuple[str, ...], dt.date, dt.date]] = []

    class Recording(DemoProvider):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.reference = name

        def bars(self, symbols, dataset, start, end, since=None):  # type: ignore[no-untyped-def]
            asked.append((self.reference, tuple(symbols), start, end))
            return super().bars(symbols, dataset, start, end, since)

    spec = SPEC.model_copy(update={"against": ("alpaca", "polygon")})
    reconciler = Reconciler(market_db, lambda *_: stored, Recording, lambda _: True, spec)
    report = reconciler.reconcile(pairs())
    assert report.references == {"alpaca", "polygon"} and report.compared == len(pairs())
    assert sorted(a[0] for a in asked) == ["alpaca", "polygon"]
    assert ("polygon", ("MSFT",), SESSIONS[1], SESSIONS[2]) in asked
    (divergence,) = report.divergences
    assert (divergence.provider_a, divergence.provider_b, divergence.session) == (
        "alpaca",
        "polygon",
        SESSIONS[2],
    )
    with market_db.begin() as conn:
        recorded = conn.execute(
            sa.text("SELECT symbol, provider_a, provider_b, field FROM reconciliation")
        ).all()
    assert [tuple(r) for r in recorded] == [("MSFT", "alpaca", "polygon", "close")]
    assert reconciler.reconcile(pairs()).divergences  # re-run: the same one, replacing its row
    with market_db.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM reconciliation")).scalar_one() == 1
