"""The symbol rule every dataset, provider and table shares: ``^[A-Z][A-Z0-9.-]{0,9}$``."""

import re

import numpy as np
import pandas as pd

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


class InvalidSymbolError(ValueError):
    """A symbol does not match ``^[A-Z][A-Z0-9.-]{0,9}$``."""


def validate_symbol(raw: str) -> str:
    """Normalize (strip, upper-case) and validate a ticker symbol.

    Raises:
        InvalidSymbolError: naming the symbol and the expected pattern.
    """
    symbol = raw.strip().upper() if isinstance(raw, str) else raw
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        raise InvalidSymbolError(
            f"invalid symbol {raw!r}: expected 1-10 characters, a letter first, then letters, "
            "digits, '.' or '-' (e.g. AAPL, BRK.B)"
        )
    return symbol


def valid_symbols(symbols: pd.Series) -> np.ndarray:
    """Per row, whether the symbol matches the pattern (as given: no normalisation)."""
    return symbols.fillna("").str.fullmatch(SYMBOL_PATTERN.pattern).to_numpy(dtype=bool)
