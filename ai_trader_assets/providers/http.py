"""Polygon (Massive) transport: the official ``massive`` SDK's connection pool, our retries and paging.

The SDK builds the pool (TLS, keep-alive, the key in the ``Authorization`` header). We issue the
requests through that pool ourselves because the SDK's own paths lose what we must act on: its raw
mode drops the status code and ``Retry-After``, and its iterators end silently on an undecodable page
or a missing ``results`` key. Here every status is classified, 429 honours ``Retry-After``, transient
failures retry with bounded exponential backoff and jitter, and pagination either completes or fails.
"""

import dataclasses
import email.utils
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import massive
import orjson
import tenacity
import urllib3

from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.providers.base import (
    AuthenticationError,
    PaginationError,
    ProviderCall,
    ProviderError,
)
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret

MAX_PAGES = 10_000
# Query parameters that must never travel in a URL we send (Polygon also accepts the key as apiKey).
SECRET_PARAMETERS = {"apikey", "api_key"}


class TransientError(ProviderError):
    """A failure worth retrying (429, 5xx, timeout, dropped connection)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())


def _strip_secrets(path_and_query: str) -> str:
    parsed = urlparse(path_and_query)
    query = [
        (k, v)
        for k, v in parse_qsl(parsed.query, keep_blank_values=True)
        if k.lower() not in SECRET_PARAMETERS
    ]
    return parsed.path + (f"?{urlencode(query)}" if query else "")


@dataclasses.dataclass
class Page:
    body: dict[str, Any]
    call: ProviderCall


class PolygonTransport:
    """GET JSON from Polygon with limits, retries and exhaustive pagination.

    Args:
        api_key: The key (sent in the Authorization header only).
        base_url: ``POLYGON_BASE_URL``.
        spec: Timeouts, retries and limits from ``providers.yaml``.
        limiter: The shared request limiter.
        sleep: Injected for tests of the retry timing.
    """

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        spec: ProviderSpec,
        limiter: RequestLimiter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sdk = massive.RESTClient(
            api_key=api_key.reveal(),
            base=base_url.rstrip("/"),
            connect_timeout=spec.timeouts.connect_seconds,
            read_timeout=spec.timeouts.read_seconds,
            pagination=False,
            # urllib3 must hand every response back to us, so no retries or redirects down there.
            connection_pool_kw={"retries": False},
        )
        self._base = base_url.rstrip("/")
        self._spec = spec
        self._limiter = limiter
        self._sleep = sleep
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=spec.retries.initial_backoff_seconds,
            max=spec.retries.max_backoff_seconds,
            jitter=spec.retries.jitter_seconds,
        )

    def __repr__(self) -> str:
        return f"PolygonTransport({self._base})"

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(state)

    def get(self, endpoint: str, path: str, params: dict[str, Any] | None = None) -> Page:
        """One JSON document, retried on transient failures.

        Args:
            endpoint: The path template, for metadata and messages (never contains values).
            path: The path (and query) to request.
            params: Query parameters.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._spec.retries.max_attempts),
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, endpoint, path, params)
        except TransientError as exc:
            raise ProviderError(
                f"polygon {endpoint}: gave up after {self._spec.retries.max_attempts} attempts: {exc}"
            ) from exc

    def _get_once(self, endpoint: str, path: str, params: dict[str, Any] | None) -> Page:
        self._limiter.acquire()
        started = time.perf_counter()
        try:
            response = self._sdk.client.request(
                "GET", self._base + path, fields=params, headers=self._sdk.headers, preload_content=True
            )
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise TransientError(f"{type(exc).__name__} (timeout or dropped connection)") from None
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"connection failed: {type(exc).__name__}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        status = response.status
        if status in (401, 403):
            raise AuthenticationError(
                f"polygon {endpoint}: HTTP {status}: the provider refused the key; check POLYGON_API_KEY "
                "(or MASSIVE_API_KEY) and the plan's entitlements"
            )
        if status == 429:
            raise TransientError(
                "HTTP 429 rate limited", _retry_after_seconds(response.headers.get("Retry-After"))
            )
        if status >= 500:
            raise TransientError(f"HTTP {status}")
        if status != 200:
            raise ProviderError(
                f"polygon {endpoint}: HTTP {status}: {response.data[:200].decode(errors='replace')}"
            )
        try:
            body = orjson.loads(response.data)
        except orjson.JSONDecodeError as exc:
            # A cut-off body is a transport fault, not an empty answer.
            raise TransientError(f"undecodable JSON body ({len(response.data)} bytes): {exc}") from None
        if not isinstance(body, dict) or body.get("status") == "ERROR":
            raise ProviderError(f"polygon {endpoint}: error response: {str(body)[:200]}")
        results = body.get("results")
        rows = len(results) if isinstance(results, list) else 0
        return Page(
            body=body, call=ProviderCall(endpoint=endpoint, status=status, latency_ms=latency_ms, rows=rows)
        )

    def paginate(self, endpoint: str, path: str, params: dict[str, Any]) -> Iterator[Page]:
        """Every page, following ``next_url`` to the end.

        Raises:
            PaginationError: a page shorter than its ``resultsCount``, results missing while counted,
                or a ``next_url`` seen before (a loop), or more than MAX_PAGES pages.
        """
        seen: set[str] = set()
        current_path: str = path
        current_params: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            page = self.get(endpoint, current_path, current_params)
            _check_complete(endpoint, page.body)
            yield page
            next_url = page.body.get("next_url")
            if not next_url:
                return
            parsed = urlparse(next_url)
            next_path = _strip_secrets(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
            if next_path in seen:
                raise PaginationError(f"polygon {endpoint}: next_url repeats a page already read (a loop)")
            seen.add(next_path)
            current_path, current_params = next_path, None
        raise PaginationError(f"polygon {endpoint}: more than {MAX_PAGES} pages; refusing to continue")


def _check_complete(endpoint: str, body: dict[str, Any]) -> None:
    results = body.get("results")
    declared = body.get("resultsCount")
    if results is None:
        if declared:
            raise PaginationError(f"polygon {endpoint}: resultsCount={declared} but no results in the page")
        return
    if not isinstance(results, list):
        raise ProviderError(f"polygon {endpoint}: 'results' is not a list")
    if declared is not None and declared != len(results):
        raise PaginationError(
            f"polygon {endpoint}: page holds {len(results)} results but declares resultsCount={declared} "
            "(truncated response)"
        )
