"""Company records as the ``companies`` table holds them: layers as qualification flags, and the
companies CSV (``ai-trader companies import``, the demo universe). The repository that reads and
writes the table is :mod:`ai_trader_assets.storage.companies`."""

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ai_trader_assets.datasets.names import LAYERS
from ai_trader_assets.datasets.symbols import InvalidSymbolError, validate_symbol

FLAG_COLUMNS = ("is_active", "layer1_qualified", "layer2_qualified", "layer3_qualified")
CSV_COLUMNS = ("symbol", "name", "exchange", "layer", "liquidity_score", *FLAG_COLUMNS)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class CompaniesImportError(ValueError):
    """A companies CSV is malformed; nothing was written."""


def validate_layer(raw: int | str | None) -> int | None:
    """A layer 0-3, or None for "no layer" (inactive); accepts the CLI's spellings."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "inactive")):
        return None
    try:
        layer = int(raw)
    except (TypeError, ValueError):
        layer = -1
    if layer not in LAYERS:
        raise ValueError(f"invalid layer {raw!r}: expected 0, 1, 2, 3 or 'none'")
    return layer


def flags_for_layer(layer: int | None) -> dict[str, bool]:
    """The qualification flags that give a symbol exactly ``layer`` (lower flags are kept).

    Only the flags that decide the layer are set: the target flag on, every higher flag off,
    ``is_active`` on; ``None`` deactivates the symbol and clears every flag.
    """
    if layer is None:
        return dict.fromkeys(FLAG_COLUMNS, False)
    flags = {"is_active": True}
    for n in (1, 2, 3):
        if n == layer:
            flags[f"layer{n}_qualified"] = True
        elif n > layer:
            flags[f"layer{n}_qualified"] = False
    return flags


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One company record checked and typed: a valid symbol, text fields stripped, a numeric score,
    boolean flags, or a ``layer`` translated by :func:`flags_for_layer`."""
    unknown = set(record) - set(CSV_COLUMNS)
    if unknown:
        raise CompaniesImportError(f"unknown column(s) {sorted(unknown)}; expected {list(CSV_COLUMNS)}")
    row: dict[str, Any] = {"symbol": validate_symbol(record["symbol"])}
    for key in ("name", "exchange"):
        if record.get(key) not in (None, ""):
            row[key] = str(record[key]).strip()
    if record.get("liquidity_score") not in (None, ""):
        try:
            row["liquidity_score"] = float(record["liquidity_score"])
        except (TypeError, ValueError) as exc:
            raise CompaniesImportError(
                f"liquidity_score {record['liquidity_score']!r} is not a number"
            ) from exc
    for flag in FLAG_COLUMNS:
        if record.get(flag) not in (None, ""):
            row[flag] = _parse_bool(record[flag], flag)
    if "layer" in record:
        if any(flag in row for flag in FLAG_COLUMNS):
            raise CompaniesImportError("give either a layer or qualification flags, not both")
        row.update(flags_for_layer(validate_layer(record["layer"])))
    return row


def _parse_bool(raw: Any, column: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CompaniesImportError(f"{column} {raw!r} is not a boolean (true/false, 1/0, yes/no)")


def read_companies_csv(path: Path) -> list[dict[str, Any]]:
    """Parse and validate a companies CSV; any problem names the file and line.

    Raises:
        CompaniesImportError
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CompaniesImportError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "symbol" not in header:
            raise CompaniesImportError(f"{path}: line 1: the header needs a 'symbol' column (got {header})")
        records: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for record in reader:
            line = reader.line_num
            try:
                if None in record:
                    raise CompaniesImportError("more fields than the header has columns")
                row = normalize_record({k: v for k, v in record.items() if k is not None})
            except (CompaniesImportError, InvalidSymbolError, ValueError) as exc:
                raise CompaniesImportError(f"{path}: line {line}: {exc}; nothing was imported") from exc
            if row["symbol"] in seen:
                raise CompaniesImportError(
                    f"{path}: line {line}: {row['symbol']} already appears on line "
                    f"{seen[row['symbol']]}; nothing was imported"
                )
            seen[row["symbol"]] = line
            records.append(row)
    return records
