"""Polygon's transport: :class:`JsonTransport` on the official ``massive`` SDK's connection pool, with
exhaustive ``next_url`` pagination.

The ``massive`` SDK builds the pool (TLS, keep-alive, the key in the ``Authorization`` header). We
issue the requests through that pool ourselves because the SDK's own paths lose what we must act on:
its raw mode drops the status code and ``Retry-After``, and its iterators end silently on an
undecodable page or a missing ``results`` key.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import massive

from ai_trader_assets.providers.base import PaginationError, ProviderError
from ai_trader_assets.providers.http import MAX_PAGES, JsonTransport, Page, RequestGovernor, strip_secrets
from ai_trader_assets.settings import Secret


def _polygon_rows(body: Any) -> int:
    results = body.get("results") if isinstance(body, dict) else None
    return len(results) if isinstance(results, list) else 0


class PolygonTransport(JsonTransport):
    """GET JSON from Polygon with limits, retries and exhaustive ``next_url`` pagination.

    The ``massive`` SDK builds the pool (TLS, keep-alive, the key in the ``Authorization`` header).
    We issue the requests through that pool ourselves because the SDK's own paths lose what we must
    act on: its raw mode drops the status code and ``Retry-After``, and its iterators end silently on
    an undecodable page or a missing ``results`` key.
    """

    def __init__(self, api_key: Secret, base_url: str, governor: RequestGovernor) -> None:
        spec = governor.spec
        sdk = massive.RESTClient(
            api_key=api_key.reveal(),
            base=base_url.rstrip("/"),
            connect_timeout=spec.timeouts.connect_seconds,
            read_timeout=spec.timeouts.read_seconds,
            pagination=False,
            # urllib3 must hand every response back to us, so no retries or redirects down there.
            connection_pool_kw={"retries": False},
        )
        super().__init__(
            base_url,
            governor,
            headers={k: Secret(v) if k.lower() == "authorization" else v for k, v in sdk.headers.items()},
            key_variables="POLYGON_API_KEY (or MASSIVE_API_KEY)",
            rows_of=_polygon_rows,
            pool=sdk.client,
        )

    def __repr__(self) -> str:
        return f"PolygonTransport({self._base})"

    def check_body(self, endpoint: str, body: Any) -> None:
        if not isinstance(body, dict) or body.get("status") == "ERROR":
            raise ProviderError(f"polygon {endpoint}: error response: {str(body)[:200]}")

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
            next_path = strip_secrets(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
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
