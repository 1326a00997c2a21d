"""The companies repository on both engines: layers, membership, set-layer and CSV import."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from ai_trader_assets.datasets.companies import CompaniesImportError
from ai_trader_assets.datasets.symbols import InvalidSymbolError
from ai_trader_assets.storage.companies import CompaniesRepository, UnknownSymbolError
from ai_trader_assets.storage.database import MarketDatabase


@pytest.fixture
def repo(market_db: MarketDatabase) -> CompaniesRepository:
    return CompaniesRepository(market_db)


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "companies.csv"
    path.write_text(text)
    return path


def event_rows(database: MarketDatabase) -> list[tuple]:  # type: ignore[type-arg]
    with database.begin() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT symbol, from_layer, to_layer, kind, source FROM qualification_events ORDER BY id"
                )
            )
        ]


def row_count(database: MarketDatabase) -> int:
    with database.begin() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM companies")).scalar_one())


def test_import_then_layers_and_members(repo: CompaniesRepository, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "symbol,name,exchange,layer,liquidity_score\n"
        "AAPL,Apple Inc.,XNAS,3,0.99\nMSFT,Microsoft,XNAS,2,0.98\nIBM,IBM,XNYS,1,\n"
        "F,Ford,XNYS,0,\nOLD,Old Co,XNYS,none,\n",
    )
    result = repo.import_csv(path)
    assert (result.inserted, result.updated, result.layer_changes) == (5, 0, 4)
    assert repo.layer_of("AAPL") == 3 and repo.layer_of("old") is None
    assert repo.members(2) == ["MSFT"] and repo.members(0) == ["F"]
    assert repo.layer_counts() == {3: 1, 2: 1, 1: 1, 0: 1, None: 1}
    assert repo.get("AAPL").name == "Apple Inc."
    assert {e[4] for e in event_rows(repo.database)} == {"csv-import"}


def test_reimport_updates_only_given_columns(repo: CompaniesRepository, tmp_path: Path) -> None:
    repo.import_csv(write_csv(tmp_path, "symbol,name,layer\nAAPL,Apple,3\n"))
    result = repo.import_csv(write_csv(tmp_path, "symbol,exchange\nAAPL,XNAS\n"))
    assert (result.inserted, result.updated, result.layer_changes) == (0, 1, 0)
    company = repo.get("AAPL")
    assert (company.name, company.exchange, company.layer) == ("Apple", "XNAS", 3)


def test_set_layer_records_one_event_with_its_source(repo: CompaniesRepository, tmp_path: Path) -> None:
    repo.import_csv(write_csv(tmp_path, "symbol,layer\nAAPL,3\nMSFT,1\n"))
    assert repo.set_layer("AAPL", 1).layer == 1
    assert repo.set_layer("MSFT", 2).layer == 2
    assert repo.set_layer("MSFT", 2).layer == 2  # no change, no event
    assert repo.set_layer("MSFT", None).layer is None
    assert event_rows(repo.database)[2:] == [
        ("AAPL", 3, 1, "demoted", "cli"),
        ("MSFT", 1, 2, "promoted", "cli"),
        ("MSFT", 2, None, "deactivated", "cli"),
    ]


def test_set_layer_refuses_bad_input_and_writes_nothing(repo: CompaniesRepository, tmp_path: Path) -> None:
    repo.import_csv(write_csv(tmp_path, "symbol,layer\nAAPL,1\n"))
    before = event_rows(repo.database)
    with pytest.raises(InvalidSymbolError):
        repo.set_layer("AA$L", 2)
    with pytest.raises(UnknownSymbolError, match="ZZZZ is not in the companies table"):
        repo.set_layer("ZZZZ", 2)
    with pytest.raises(ValueError, match="invalid layer 7"):
        repo.set_layer("AAPL", 7)
    assert event_rows(repo.database) == before and repo.layer_of("AAPL") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,layer\nAAPL,1\nB@D,2\n", "line 3: invalid symbol 'B@D'"),
        ("symbol,layer\nAAPL,1\nMSFT,9\n", "line 3: invalid layer '9'"),
        ("symbol,layer\nAAPL,1\naapl,2\n", "line 3: AAPL already appears on line 2"),
        ("symbol,is_active\nAAPL,maybe\n", "line 2: is_active 'maybe' is not a boolean"),
        ("symbol,sector\nAAPL,tech\n", "unknown column(s) ['sector']"),
        ("name,layer\nApple,1\n", "line 1: the header needs a 'symbol' column"),
        ("symbol,layer\nAAPL,1,extra\n", "line 2: more fields than the header"),
        ("symbol,layer,layer2_qualified\nAAPL,1,true\n", "either a layer or qualification flags"),
    ],
)
def test_bad_csv_names_the_line_and_writes_nothing(
    repo: CompaniesRepository, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(CompaniesImportError) as info:
        repo.import_csv(write_csv(tmp_path, text))
    assert message in str(info.value)
    assert row_count(repo.database) == 0 and event_rows(repo.database) == []


def test_flags_can_be_imported_directly(repo: CompaniesRepository, tmp_path: Path) -> None:
    repo.import_csv(
        write_csv(
            tmp_path, "symbol,is_active,layer1_qualified,layer2_qualified\nAAA,yes,1,false\nBBB,no,0,0\n"
        )
    )
    assert repo.layer_of("AAA") == 1 and repo.layer_of("BBB") is None
