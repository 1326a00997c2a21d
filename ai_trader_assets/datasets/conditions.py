"""Trade conditions: which trades update a bar's open/high/low/close and volume.

Condition ids are Polygon's (Massive) ``/v3/reference/conditions`` ids for stock trades; Alpaca's
trades carry the SIP letter codes of the CTA and UTP plans, mapped here to the same ids, so a stored
trade's ``conditions`` mean the same whichever provider served it. The update rules are the
consolidated ("SIP") rules of that reference, which follow the CTA and UTP plans' tables
(CTS/UTDF specifications, "Sale Condition" appendices). Transcribed from those public references:
the platform cannot fetch them at run time, and a change there is a change here.

Excluded from every bar as well: trades whose ``correction`` code marks them cancelled or in error
(CTA/UTP correction indicators 7-11) — :data:`EXCLUDED_CORRECTIONS`.
"""

# (id, name, SIP letter codes, updates high/low, updates open/close (last), updates volume)
CONDITIONS: tuple[tuple[int, str, str, bool, bool, bool], ...] = (
    (0, "Regular Sale", "@", True, True, True),
    (1, "Acquisition", "A", True, True, True),
    (2, "Average Price Trade", "W", False, False, True),
    (3, "Automatic Execution", "", True, True, True),
    (4, "Bunched Trade", "B", True, True, True),
    (5, "Bunched Sold Trade", "G", True, False, True),
    (7, "Cash Sale", "C", False, False, True),
    (8, "Closing Prints", "6", True, True, True),
    (9, "Cross Trade", "X", True, True, True),
    (10, "Derivatively Priced", "4", True, False, True),
    (11, "Distribution", "D", True, True, True),
    (12, "Form T / Extended Hours", "T", False, False, True),
    (13, "Extended Hours (Sold Out Of Sequence)", "U", False, False, True),
    (14, "Intermarket Sweep", "F", True, True, True),
    (15, "Market Center Official Close", "M", False, False, False),
    (16, "Market Center Official Open", "Q", False, False, False),
    (17, "Market Center Opening Trade", "O", True, True, True),
    (19, "Market Center Closing Trade", "", True, True, True),
    (20, "Next Day", "N", False, False, True),
    (21, "Price Variation Trade", "H", False, False, True),
    (22, "Prior Reference Price", "P", True, False, True),
    (23, "Rule 155 Trade (AMEX)", "K", True, True, True),
    (25, "Opening Prints", "", True, True, True),
    (27, "Stopped Stock (Regular Trade)", "1", True, True, True),
    (28, "Re-Opening Prints", "5", True, True, True),
    (29, "Seller", "R", False, False, True),
    (30, "Sold Last", "L", True, True, True),
    (32, "Sold (Out Of Sequence)", "Z", True, False, True),
    (37, "Odd Lot Trade", "I", False, False, True),
    (38, "Corrected Consolidated Close", "9", False, False, False),
    (41, "Trade Thru Exempt", "", True, True, True),
    (52, "Contingent Trade", "V", False, False, True),
    (53, "Qualified Contingent Trade", "7", False, False, True),
)
SOURCE = (
    "Polygon (Massive) /v3/reference/conditions (asset class stocks, data type trade); CTA/UTP SIP tables"
)

# Conditions that keep a trade out of a bar's high/low, open/close (last) or volume.
NO_HIGH_LOW: frozenset[int] = frozenset(c[0] for c in CONDITIONS if not c[3])
NO_OPEN_CLOSE: frozenset[int] = frozenset(c[0] for c in CONDITIONS if not c[4])
NO_VOLUME: frozenset[int] = frozenset(c[0] for c in CONDITIONS if not c[5])
# SIP letter code (Alpaca's ``c``) -> condition id; a blank letter means "no condition".
BY_LETTER: dict[str, int] = {letter: c[0] for c in CONDITIONS for letter in c[2]}
# Correction codes of trades that did not happen as printed (cancelled or in error; their correction
# records): 7 erroneous, 8 cancelled, 9 cancel record, 10 error record, 11 correction record.
EXCLUDED_CORRECTIONS: frozenset[int] = frozenset((7, 8, 9, 10, 11))
# Alpaca's trade ``u`` (update) -> the correction code it stands for.
ALPACA_UPDATES: dict[str, int] = {"corrected": 1, "incorrect": 7, "canceled": 8}
