"""The cold data lake: Hive-partitioned Parquet on a local disk or S3, through pyarrow filesystems.

Layout: ``{root}/{dataset}/date=YYYY-MM-DD/layer=L/data.parquet``, readable as one dataset by
pyarrow, DuckDB or polars.
"""

import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ai_trader_assets.config import LAYERS, Dataset
from ai_trader_assets.settings import Secret

PARTITION_FILE = "data.parquet"


class LakeError(RuntimeError):
    """The lake could not be reached or written; the message names the location (never secrets)."""


class Lake:
    """Cold storage rooted at a local path, ``file://`` URL or ``s3://bucket/prefix``.

    Args:
        url: The lake root (``AI_TRADER_LAKE_URL``).
        s3_endpoint_url: S3-compatible endpoint (``AWS_ENDPOINT_URL``), e.g. a local server.
        s3_region: ``AWS_REGION``.
        s3_access_key_id, s3_secret_access_key: credentials; when None, the AWS default chain.
    """

    def __init__(
        self,
        url: str,
        *,
        s3_endpoint_url: str | None = None,
        s3_region: str | None = None,
        s3_access_key_id: Secret | None = None,
        s3_secret_access_key: Secret | None = None,
    ) -> None:
        self.url = url
        parsed = urlparse(url)
        if parsed.scheme == "s3":
            self.filesystem: pafs.FileSystem = _s3_filesystem(
                s3_endpoint_url, s3_region, s3_access_key_id, s3_secret_access_key
            )
            self.root = f"{parsed.netloc}{parsed.path}".rstrip("/")
            self.is_local = False
        else:
            local = Path(parsed.path if parsed.scheme == "file" else url).expanduser().absolute()
            self.filesystem = pafs.LocalFileSystem()
            self.root = str(local)
            self.is_local = True

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def partition_dir(self, dataset: Dataset | str, session: dt.date, layer: int) -> str:
        """The folder of one partition (dataset and layer are whitelisted, so no path tricks)."""
        dataset = Dataset(dataset)
        if layer not in LAYERS:
            raise ValueError(f"invalid layer {layer!r}: expected one of {list(LAYERS)}")
        return f"{self.root}/{dataset.value}/date={session.isoformat()}/layer={layer}"

    def partition_path(self, dataset: Dataset | str, session: dt.date, layer: int) -> str:
        return f"{self.partition_dir(dataset, session, layer)}/{PARTITION_FILE}"

    def write_partition(self, dataset: Dataset | str, session: dt.date, layer: int, table: pa.Table) -> str:
        """Replace one partition's file atomically; readers see the old file or the new one.

        Locally the file is written under a temporary name in the same folder, then renamed. On S3 a
        single object PUT (multipart included) only becomes visible once complete, so it is already
        atomic and a copy-then-delete "rename" would only add a window of duplicates.
        """
        folder = self.partition_dir(dataset, session, layer)
        final = f"{folder}/{PARTITION_FILE}"
        try:
            self.filesystem.create_dir(folder, recursive=True)
            if not self.is_local:
                pq.write_table(table, final, filesystem=self.filesystem)
                return final
            temporary = f"{folder}/.{PARTITION_FILE}.{uuid.uuid4().hex}.tmp"
            try:
                pq.write_table(table, temporary, filesystem=self.filesystem)
                self.filesystem.move(temporary, final)
            finally:
                if self.filesystem.get_file_info(temporary).type != pafs.FileType.NotFound:
                    self.filesystem.delete_file(temporary)
        except OSError as exc:
            raise LakeError(f"cannot write {final} in lake {self.url}: {exc}") from exc
        return final

    def read_partition(self, dataset: Dataset | str, session: dt.date, layer: int) -> pa.Table | None:
        """One partition's rows, or None when it was never written."""
        path = self.partition_path(dataset, session, layer)
        try:
            if self.filesystem.get_file_info(path).type == pafs.FileType.NotFound:
                return None
            return pq.read_table(path, filesystem=self.filesystem)
        except OSError as exc:
            raise LakeError(f"cannot read {path} in lake {self.url}: {exc}") from exc

    def delete_partition(self, dataset: Dataset | str, session: dt.date, layer: int) -> bool:
        """Remove one partition; returns whether it existed."""
        folder = self.partition_dir(dataset, session, layer)
        try:
            if self.filesystem.get_file_info(folder).type == pafs.FileType.NotFound:
                return False
            self.filesystem.delete_dir(folder)
        except OSError as exc:
            raise LakeError(f"cannot delete {folder} in lake {self.url}: {exc}") from exc
        return True

    def _partition_files(self, dataset: Dataset | str) -> list[tuple[dt.date, int, int]]:
        """(session, layer, bytes) of every partition file of a dataset."""
        base = f"{self.root}/{Dataset(dataset).value}"
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise LakeError(f"cannot list {base} in lake {self.url}: {exc}") from exc
        found = []
        for info in infos:
            parts = info.path.removeprefix(base).strip("/").split("/")
            if len(parts) == 3 and parts[2] == PARTITION_FILE:
                session = dt.date.fromisoformat(parts[0].removeprefix("date="))
                found.append((session, int(parts[1].removeprefix("layer=")), info.size or 0))
        return found

    def partitions(self, dataset: Dataset | str) -> list[tuple[dt.date, int]]:
        """Every (session, layer) with a partition file, sorted."""
        return sorted((session, layer) for session, layer, _ in self._partition_files(dataset))

    def footprint(self, dataset: Dataset | str) -> tuple[int, int]:
        """(partition files, bytes) stored for a dataset."""
        files = self._partition_files(dataset)
        return len(files), sum(size for _, _, size in files)

    def dataset(self, dataset: Dataset | str) -> pads.Dataset:
        """The whole dataset as a Hive-partitioned pyarrow dataset (columns ``date`` and ``layer`` added)."""
        base = f"{self.root}/{Dataset(dataset).value}"
        return pads.dataset(
            base,
            filesystem=self.filesystem,
            format="parquet",
            partitioning=pads.partitioning(
                pa.schema([("date", pa.string()), ("layer", pa.int8())]), flavor="hive"
            ),
            exclude_invalid_files=True,
            ignore_prefixes=[".", "_"],
        )


def _s3_filesystem(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: Secret | None,
    secret_access_key: Secret | None,
) -> pafs.S3FileSystem:
    options: dict[str, object] = {}
    if endpoint_url:
        endpoint = urlparse(endpoint_url)
        options["endpoint_override"] = endpoint.netloc or endpoint.path
        options["scheme"] = endpoint.scheme or "https"
    if region:
        options["region"] = region
    if (access_key_id is None) != (secret_access_key is None):
        raise LakeError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
    if access_key_id is not None and secret_access_key is not None:
        options["access_key"] = access_key_id.reveal()
        options["secret_key"] = secret_access_key.reveal()
    return pafs.S3FileSystem(**options)
