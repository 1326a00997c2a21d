"""Where the lake lives: a local path, ``file://`` URL or ``s3://bucket/prefix``.

Every dataset is one Delta Lake table at ``{root}/{dataset}``. This module only knows locations and
credentials: delta-rs gets them as ``storage_options``, pyarrow (for the previous release's layout,
which ``ai-trader lake migrate`` converts) as a filesystem. Secrets never reach a repr or an error.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from ai_trader_assets.datasets import Dataset
from ai_trader_assets.settings import Secret, Settings

# Tables of derived assets (computed from the datasets, not ingested): at ``{root}/derived/{name}``.
DERIVED_TABLES = frozenset({"daily_liquidity"})


def table_path(name: Dataset | str) -> str:
    """A table's folder under the lake root; only datasets and derived tables have one (no path tricks)."""
    if name in DERIVED_TABLES:
        return f"derived/{name}"
    return Dataset(name).value


class LakeError(RuntimeError):
    """The lake could not be reached, read or written; the message names the location (never secrets)."""


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
        if (s3_access_key_id is None) != (s3_secret_access_key is None):
            raise LakeError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        self._endpoint = s3_endpoint_url
        self._region = s3_region
        self._key_id = s3_access_key_id
        self._secret = s3_secret_access_key
        if parsed.scheme == "s3":
            self.is_local = False
            self.root = f"{parsed.netloc}{parsed.path}".rstrip("/")  # bucket/prefix, as pyarrow wants it
            self.root_uri = f"s3://{self.root}"
        else:
            local = Path(parsed.path if parsed.scheme == "file" else url).expanduser().absolute()
            self.is_local = True
            self.root = str(local)
            self.root_uri = str(local)

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def table_uri(self, dataset: Dataset | str) -> str:
        """The Delta table of a dataset or derived table (whitelisted by :func:`table_path`)."""
        return f"{self.root_uri}/{table_path(dataset)}"

    def describe(self, dataset: Dataset | str) -> str:
        """The table's location for messages: the lake URL as given (no credentials in it) + dataset."""
        return f"{self.url.rstrip('/')}/{table_path(dataset)}"

    def storage_options(self) -> dict[str, str]:
        """delta-rs (object_store) options. Holds secrets: pass it on, never log it."""
        if self.is_local:
            return {}
        options: dict[str, str] = {}
        if self._endpoint:
            options["AWS_ENDPOINT_URL"] = self._endpoint
            if self._endpoint.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"  # a local S3-compatible server without TLS
        if self._region:
            options["AWS_REGION"] = self._region
        if self._key_id is not None and self._secret is not None:
            options["AWS_ACCESS_KEY_ID"] = self._key_id.reveal()
            options["AWS_SECRET_ACCESS_KEY"] = self._secret.reveal()
        return options

    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem for the lake root (paths relative to it start with ``self.root``)."""
        if self.is_local:
            return pafs.LocalFileSystem()
        options: dict[str, object] = {}
        if self._endpoint:
            endpoint = urlparse(self._endpoint)
            options["endpoint_override"] = endpoint.netloc or endpoint.path
            options["scheme"] = endpoint.scheme or "https"
        if self._region:
            options["region"] = self._region
        if self._key_id is not None and self._secret is not None:
            options["access_key"] = self._key_id.reveal()
            options["secret_key"] = self._secret.reveal()
        return pafs.S3FileSystem(**options)


def lake_from_settings(settings: Settings) -> Lake:
    """The lake of the environment (``AI_TRADER_LAKE_URL`` and the ``AWS_*`` variables)."""
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    return Lake(
        settings.lake_url,
        s3_endpoint_url=settings.aws_endpoint_url,
        s3_region=settings.aws_region,
        s3_access_key_id=Secret(key_id) if key_id else None,
        s3_secret_access_key=Secret(secret) if secret else None,
    )
