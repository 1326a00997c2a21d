"""The cold lake on a local disk and on S3 (a local S3-compatible server): layout, atomicity, reads."""

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ai_trader_assets.settings import Secret
from ai_trader_assets.storage.lake import Lake, LakeError
from ai_trader_assets_tests.support.s3 import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    create_bucket,
    moto_server,
)

SESSION = dt.date(2026, 11, 20)


def bars(symbols: list[str], close: float) -> pa.Table:
    return pa.table(
        {
            "symbol": symbols,
            "ts": pa.array(
                [dt.datetime(2026, 11, 20, 5, tzinfo=dt.UTC)] * len(symbols), pa.timestamp("us", "UTC")
            ),
            "close": [close] * len(symbols),
        }
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def s3_lake(endpoint: str, bucket: str, prefix: str = "lake") -> Lake:
    return Lake(
        f"s3://{bucket}/{prefix}",
        s3_endpoint_url=endpoint,
        s3_region=REGION,
        s3_access_key_id=Secret(ACCESS_KEY_ID),
        s3_secret_access_key=Secret(SECRET_ACCESS_KEY),
    )


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    create_bucket(endpoint, bucket)
    return s3_lake(endpoint, bucket)


def test_layout_and_roundtrip(lake: Lake) -> None:
    path = lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL", "MSFT"], 10.0))
    assert path.endswith("/bars_1day/date=2026-11-20/layer=1/data.parquet")
    table = lake.read_partition("bars_1day", SESSION, 1)
    assert table is not None and table.column("symbol").to_pylist() == ["AAPL", "MSFT"]
    assert lake.read_partition("bars_1day", SESSION, 2) is None


def test_replace_and_list_and_read_as_hive_dataset(lake: Lake) -> None:
    lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL"], 10.0))
    lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL"], 11.0))  # replaces
    lake.write_partition("bars_1day", SESSION + dt.timedelta(days=3), 2, bars(["NVDA"], 5.0))
    assert lake.partitions("bars_1day") == [(SESSION, 1), (SESSION + dt.timedelta(days=3), 2)]
    assert lake.partitions("news") == []
    table = lake.dataset("bars_1day").to_table().sort_by("symbol")
    assert table.column("symbol").to_pylist() == ["AAPL", "NVDA"]
    assert table.column("close").to_pylist() == [11.0, 5.0]
    assert table.column("layer").to_pylist() == [1, 2]
    assert table.column("date").to_pylist() == ["2026-11-20", "2026-11-23"]


def test_delete_partition(lake: Lake) -> None:
    lake.write_partition("news", SESSION, 3, bars(["AAPL"], 1.0))
    assert lake.delete_partition("news", SESSION, 3) is True
    assert lake.delete_partition("news", SESSION, 3) is False
    assert lake.partitions("news") == []


def test_dataset_and_layer_are_whitelisted(lake: Lake) -> None:
    with pytest.raises(ValueError, match="not a valid Dataset"):
        lake.partition_path("../../etc", SESSION, 1)
    with pytest.raises(ValueError, match="invalid layer 4"):
        lake.partition_path("bars_1day", SESSION, 4)


def test_failed_local_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(f"file://{tmp_path / 'lake'}")
    lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL"], 10.0))

    real_write = pq.write_table

    def write_then_crash(table: pa.Table, where: str, **kwargs: object) -> None:
        real_write(table, where, **kwargs)  # the temporary file is fully on disk...
        raise OSError("disk full")  # ...when the writer dies

    monkeypatch.setattr(pq, "write_table", write_then_crash)
    with pytest.raises(LakeError, match="disk full"):
        lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL"], 99.0))
    monkeypatch.undo()
    table = lake.read_partition("bars_1day", SESSION, 1)
    assert table is not None and table.column("close").to_pylist() == [10.0]
    folder = Path(lake.partition_dir("bars_1day", SESSION, 1))
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]


def test_s3_errors_name_the_location_but_never_the_secret(s3_endpoint: str) -> None:
    lake = s3_lake(s3_endpoint, "no-such-bucket")
    with pytest.raises(LakeError) as info:
        lake.write_partition("bars_1day", SESSION, 1, bars(["AAPL"], 1.0))
    message = str(info.value)
    assert "s3://no-such-bucket/lake" in message
    assert SECRET_ACCESS_KEY not in message and SECRET_ACCESS_KEY not in repr(lake)


def test_half_configured_s3_credentials_are_refused() -> None:
    with pytest.raises(LakeError, match="AWS_SECRET_ACCESS_KEY"):
        Lake("s3://bucket/lake", s3_access_key_id=Secret("id"))
