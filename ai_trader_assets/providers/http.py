"""The HTTP side every provider shares: rate limits, classified retries and JSON over a pooled client.

:class:`RequestGovernor` wraps one request at a time (never a whole paginated loop): it takes a slot
from the shared limiter, classifies the outcome, retries only transient failures (429 honouring
``Retry-After``, 5xx, timeouts, dropped connections, a cut-off body) with bounded exponential backoff
and jitter, and turns retries exhausted into :class:`ProviderUnavailableError` (which failover acts
on). 401/403 raise :class:`AuthenticationError` at once, naming the variable to check — never the key.

:class:`JsonTransport` issues GETs through a urllib3 pool (Yahoo, Benzinga, Polygon) with the
governor; Alpaca's SDK issues its own requests through the same governor (``providers/alpaca/sdk.py``).
:class:`~ai_trader_assets.providers.polygon.PolygonTransport` adds Polygon's ``next_url`` pagination on the
official ``massive`` SDK's pool.

Every attempt is also reported to the governor's :class:`RequestRecorder`, when it has one: the
provider, the endpoint template, the outcome (:func:`outcome_of`) and how long the request took (the
wait for a rate-limit slot apart). ``storage.provider_stats`` implements it, so ``ai-trader metrics
serve`` sees the requests of every run worker; this package knows only the interface.
"""

import dataclasses
import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse

import orjson
import tenacity
import urllib3

from ai_trader_assets.config import ProviderSpec
from ai_trader_assets.providers.base import (
    AuthenticationError,
    ProviderCall,
    ProviderError,
    ProviderUnavailableError,
)
from ai_trader_assets.providers.ratelimit import RequestLimiter
from ai_trader_assets.settings import Secret

T = TypeVar("T")
MAX_PAGES = 10_000
# Query parameters that must never travel in a URL we send (Polygon also accepts the key as apiKey,
# Benzinga as token).
SECRET_PARAMETERS = {"apikey", "api_key", "token"}
USER_AGENT = "ai-trader-assets/0.1"


class TransientError(ProviderError):
    """A failure worth retrying (429, 5xx, timeout, dropped connection, cut-off body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestRecorder(Protocol):
    """Where a governor reports each attempt. It must be cheap and never raise: it runs on the
    request's path (an implementation buffers and writes now and then)."""

    def record(self, provider: str, endpoint: str, outcome: str, seconds: float) -> None: ...


def outcome_of(error: BaseException | None) -> str:
    """An attempt's outcome as the metrics name it: ``ok``, ``rate_limited`` (429), ``transient``
    (5xx, timeout, dropped connection, cut-off body), ``auth`` (a refused key), ``unavailable`` (the
    provider turned the request away) or ``error`` (anything else)."""
    if error is None:
        return "ok"
    if isinstance(error, TransientError):
        # Every transport words a 429 the same way (classify_status, Reddit's raise_for_status).
        return "rate_limited" if str(error).startswith("HTTP 429") else "transient"
    if isinstance(error, AuthenticationError):
        return "auth"
    if isinstance(error, ProviderUnavailableError):
        return "unavailable"
    return "error"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def strip_secrets(path_and_query: str) -> str:
    """A path and query without any parameter that could carry a key."""
    parsed = urlparse(path_and_query)
    query = [
        (k, v)
        for k, v in parse_qsl(parsed.query, keep_blank_values=True)
        if k.lower() not in SECRET_PARAMETERS
    ]
    return parsed.path + (f"?{urlencode(query)}" if query else "")


def classify_status(
    provider: str,
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    *,
    text: str,
    key_variables: str | None,
) -> None:
    """Raise for a non-200 status: Authentication (401/403), Transient (429, 5xx) or ProviderError.

    Args:
        key_variables: The environment variable(s) holding the key, named in the 401/403 message;
            None for a provider without a key, whose 401/403 is the endpoint turning this client
            away (unavailable: the next provider may serve), not a configuration error.
        text: The body, quoted (shortened) for other errors; providers do not echo keys in errors.
    """
    if status in (401, 403) and key_variables is None:
        raise ProviderUnavailableError(
            f"{provider} {endpoint}: HTTP {status}: the endpoint refused this client (no key is involved; "
            "it may now require a cookie or a different client)"
        )
    if status in (401, 403):
        raise AuthenticationError(
            f"{provider} {endpoint}: HTTP {status}: the provider refused the key; check {key_variables} "
            "and the plan's entitlements"
        )
    if status == 429:
        raise TransientError("HTTP 429 rate limited", retry_after_seconds(headers.get("Retry-After")))
    if status >= 500:
        raise TransientError(f"HTTP {status}")
    if status != 200:
        raise ProviderError(f"{provider} {endpoint}: HTTP {status}: {text[:200]}")


def decode_json(
    provider: str,
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    key_variables: str | None,
) -> Any:
    """The JSON body of a response, after :func:`classify_status`; a body that does not decode (cut
    off in transit) is a :class:`TransientError`, never an empty answer."""
    classify_status(
        provider,
        endpoint,
        status,
        headers,
        text=content[:200].decode(errors="replace"),
        key_variables=key_variables,
    )
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise TransientError(f"undecodable JSON body ({len(content)} bytes): {exc}") from None


class RequestGovernor:
    """One provider's limits and retry policy, applied to one request (attempt) at a time. The factory
    builds one per provider; the provider's transports share it.

    Args:
        provider: The provider's name, for messages.
        spec: The provider's entry of ``providers.yaml`` (retries here; timeouts, page sizes and the
            rest for its transports and client).
        limiter: The shared request limiter (one slot per attempt).
        sleep: Injected for tests of the retry timing.
        recorder: Told of every attempt (requests, errors and latency for the metrics); None records
            nothing.
    """

    def __init__(
        self,
        provider: str,
        spec: ProviderSpec,
        limiter: RequestLimiter,
        sleep: Callable[[float], None] = time.sleep,
        *,
        recorder: RequestRecorder | None = None,
    ) -> None:
        self.provider = provider
        self.spec = spec
        self._limiter = limiter
        self._sleep = sleep
        self._recorder = recorder
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=spec.retries.initial_backoff_seconds,
            max=spec.retries.max_backoff_seconds,
            jitter=spec.retries.jitter_seconds,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(error.retry_after, self.spec.retries.max_backoff_seconds * 10)
        return self._backoff(state)

    def _attempt(self, endpoint: str, once: Callable[[], T]) -> T:
        self._limiter.acquire()
        if self._recorder is None:
            return once()
        started = time.perf_counter()
        try:
            result = once()
        except Exception as exc:
            self._recorder.record(self.provider, endpoint, outcome_of(exc), time.perf_counter() - started)
            raise
        self._recorder.record(self.provider, endpoint, "ok", time.perf_counter() - started)
        return result

    def run(self, endpoint: str, once: Callable[[], T]) -> T:
        """``once()`` (one request), retried while it raises :class:`TransientError`.

        Raises:
            ProviderUnavailableError: retries exhausted (the message names the last failure).
            AuthenticationError, ProviderError: as ``once`` raised them, at once.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.spec.retries.max_attempts),
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, endpoint, once)
        except TransientError as exc:
            raise ProviderUnavailableError(
                f"{self.provider} {endpoint}: gave up after {self.spec.retries.max_attempts} attempts: {exc}"
            ) from exc


@dataclasses.dataclass
class Page:
    body: Any
    call: ProviderCall


class JsonTransport:
    """GET JSON documents from one provider through a pooled urllib3 client and the governor.

    Args:
        base_url: Scheme and host (and optional prefix), from the provider's ``*_BASE_URL`` variable.
        governor: The provider's limits and retries (its name and timeouts too).
        headers: Sent with every request; values that are :class:`Secret` stay hidden in reprs.
        key_variables: The variables named when the key is refused (None: no key, see
            :func:`classify_status`).
        rows_of: How many records a body holds (for call records).
        pool: An existing urllib3 pool (Polygon reuses the ``massive`` SDK's); a new one otherwise.
    """

    def __init__(
        self,
        base_url: str,
        governor: RequestGovernor,
        *,
        headers: Mapping[str, str | Secret] | None = None,
        key_variables: str | None,
        rows_of: Callable[[Any], int] = lambda body: len(body) if isinstance(body, list) else 0,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self.provider = governor.provider
        self._base = base_url.rstrip("/")
        self._governor = governor
        self._headers = dict(headers or {})
        self._key_variables = key_variables
        self._rows_of = rows_of
        timeouts = governor.spec.timeouts
        self._pool = pool or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeouts.connect_seconds, read=timeouts.read_seconds),
            retries=False,  # every response comes back to us; the governor retries
            maxsize=4,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.provider}, {self._base})"

    def get(self, endpoint: str, path: str, params: Mapping[str, Any] | None = None) -> Page:
        """One JSON document (a dict or a list), retried on transient failures.

        Args:
            endpoint: The path template, for metadata and messages (never contains values).
            path: The path (and query) to request.
            params: Query parameters (never a key: keys travel in headers).
        """
        return self._governor.run(endpoint, lambda: self._get_once(endpoint, path, params))

    def _request_headers(self) -> dict[str, str]:
        return {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **{k: v.reveal() if isinstance(v, Secret) else v for k, v in self._headers.items()},
        }

    def _get_once(self, endpoint: str, path: str, params: Mapping[str, Any] | None) -> Page:
        started = time.perf_counter()
        try:
            response = self._pool.request(
                "GET",
                self._base + path,
                fields=dict(params) if params else None,
                headers=self._request_headers(),
                preload_content=True,
                redirect=False,
            )
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise TransientError(f"{type(exc).__name__} (timeout or dropped connection)") from None
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"connection failed: {type(exc).__name__}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        body = decode_json(
            self.provider,
            endpoint,
            response.status,
            response.headers,
            response.data,
            key_variables=self._key_variables,
        )
        self.check_body(endpoint, body)
        call = ProviderCall(
            endpoint=endpoint,
            status=response.status,
            latency_ms=latency_ms,
            rows=self._rows_of(body),
            provider=self.provider,
        )
        return Page(body=body, call=call)

    def check_body(self, endpoint: str, body: Any) -> None:
        """Raise for a 200 whose body is an error (providers override)."""
