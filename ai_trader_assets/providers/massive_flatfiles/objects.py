"""Massive's flat-file objects over S3 (boto3, SigV4, path-style: the endpoint is not AWS): one object
per session and kind, read as a stream and handed to a parser, through the provider's governor
(rate limit, retries of transient failures, provider_stats).

What S3 answers, and what the platform makes of it:
- ``NoSuchKey`` / 404: the session's object is not there (the files appear the morning after the
  session, ~11:00 New York): :class:`MissingObjectError`, so REST serves that session;
- ``InvalidAccessKeyId``, ``SignatureDoesNotMatch`` and other 403s: the keys (or the plan, or an
  unsigned agreement: Massive's 403 does not say which) — a configuration error naming the variables,
  never failed over, never printing a key;
- 5xx, throttling, timeouts and connections cut mid-object: retried, then unavailable.
"""

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import urllib3.exceptions

from ai_trader_assets.providers.base import AuthenticationError, NotServedError, ProviderError
from ai_trader_assets.providers.http import RequestGovernor, TransientError
from ai_trader_assets.settings import FLATFILES, Secret, needed_keys

T = TypeVar("T")
_MISSING = {"NoSuchKey", "404", "NotFound"}
_TRANSIENT = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "503", "500"}
_CUT_OFF = (
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ResponseStreamingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    ConnectionError,
    TimeoutError,
)


def object_key(kind: str, session: dt.date) -> str:
    """``us_stocks_sip/minute_aggs_v1/2026/11/2026-11-20.csv.gz``."""
    return f"us_stocks_sip/{kind}/{session:%Y}/{session:%m}/{session.isoformat()}.csv.gz"


class MissingObjectError(NotServedError):
    """The session's object is not in the bucket (not published yet, or outside the files' history):
    the session is fetched over REST instead."""


class FlatFileBucket:
    """The flat-files bucket, read one object at a time through ``governor``."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key_id: Secret,
        secret_access_key: Secret,
        governor: RequestGovernor,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self._governor = governor
        timeouts = governor.spec.timeouts
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key_id.reveal(),
            aws_secret_access_key=secret_access_key.reveal(),
            config=botocore.config.Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=timeouts.connect_seconds,
                read_timeout=timeouts.read_seconds,
                retries={"max_attempts": 1, "mode": "standard"},  # the governor retries
                # A gzip stream checks itself (CRC32 and length at its end): botocore's own checksum
                # of the body cost ~4 % of a fill's time.
                response_checksum_validation="when_required",
            ),
        )

    def __repr__(self) -> str:
        return f"FlatFileBucket({self.endpoint}, {self.bucket})"

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def read(self, kind: str, key: str, parse: Callable[[IO[bytes]], T]) -> T:
        """``parse`` applied to the object's byte stream; a transient failure (even mid-object) is
        retried from the start.

        Raises:
            MissingObjectError: no such object.
            AuthenticationError: S3 refused the keys (the message names the variables).
            ProviderUnavailableError: transient failures past the retries.
        """

        def once() -> T:
            with self._answers(key):
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                with body:
                    return parse(body)
            except _CUT_OFF as exc:
                raise TransientError(f"{self.where(key)} was cut off: {type(exc).__name__}") from None

        return self._governor.run(f"s3 {kind}", once)

    def sizes(self, kind: str, sessions: Sequence[dt.date]) -> dict[dt.date, int]:
        """Per session, the size of its ``kind`` object, from one listing per month (sessions the
        bucket lacks are left out)."""
        found: dict[dt.date, int] = {}
        for year, month in sorted({(s.year, s.month) for s in sessions}):
            prefix = f"us_stocks_sip/{kind}/{year:04d}/{month:02d}/"
            found.update(self._governor.run(f"s3 list {kind}", functools.partial(self._listing, prefix)))
        return {s: found[s] for s in sessions if s in found}

    def _listing(self, prefix: str) -> dict[dt.date, int]:
        sizes = {}
        with self._answers(prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    name = str(item["Key"]).rsplit("/", 1)[-1].removesuffix(".csv.gz")
                    with contextlib.suppress(ValueError):  # not a session's object
                        sizes[dt.date.fromisoformat(name)] = int(item["Size"])
        return sizes

    @contextlib.contextmanager
    def _answers(self, key: str) -> Iterator[None]:
        """S3's answers about ``key`` as the platform's errors (see the module's list)."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise self._error(key, exc) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError):
            raise TransientError(f"cannot connect to {self.endpoint}") from None

    def _error(self, key: str, exc: botocore.exceptions.ClientError) -> Exception:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        where = self.where(key)
        if code in _MISSING or status == 404:
            return MissingObjectError(
                f"{where} is not there (the files appear the morning after the session; older ones "
                "may be outside the plan's history)"
            )
        if status in (401, 403) or code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}:
            return AuthenticationError(
                f"massive_flatfiles {where}: S3 refused the request ({code or status}); check "
                f"{needed_keys(FLATFILES)} (Massive's S3 keys, not the REST key), the plan's flat-file "
                "entitlement and the agreements signed on the dashboard"
            )
        if code in _TRANSIENT or status >= 500 or status == 429:
            return TransientError(f"HTTP {status} {code}")
        return ProviderError(f"massive_flatfiles {where}: {code or status}: {error.get('Message', '')[:200]}")
