"""Reconciliation of stored daily bars with a second provider: the comparison itself (no servers)."""

import datetime as dt

import pandas as pd

from ai_trader_assets.calendar import session_midnight_utc
from ai_trader_assets.config import Dataset, load_config
from ai_trader_assets.providers.demo import session_bars
from ai_trader_assets.reconciliation import compare, reference_for, sample

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
