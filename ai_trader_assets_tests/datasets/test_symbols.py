"""The symbol rule every table, provider and read shares: ``^[A-Z][A-Z0-9.-]{0,9}$``."""

import pandas as pd
import pytest

from ai_trader_assets.datasets.symbols import InvalidSymbolError, valid_symbols, validate_symbol


@pytest.mark.parametrize("raw", ["AAPL", " brk.b ", "BF-B", "A", "ABCDEFGHIJ"])
def test_valid_symbols(raw: str) -> None:
    assert validate_symbol(raw) == raw.strip().upper()


@pytest.mark.parametrize("raw", ["", "1A", "AB$C", "ABCDEFGHIJK", "A B", "AAPL;DROP", "-A"])
def test_invalid_symbols_are_refused(raw: str) -> None:
    with pytest.raises(InvalidSymbolError, match="invalid symbol"):
        validate_symbol(raw)


def test_a_providers_tickers_are_checked_as_given() -> None:
    """Providers' rows are not normalised: a lower-case or padded ticker is a reject, not a guess."""
    tickers = pd.Series(["AAPL", "brk.b", " MSFT", None, "BRK.B"], dtype="string")
    assert valid_symbols(tickers).tolist() == [True, False, False, False, True]
