"""The machinery every local provider server shares: a threaded HTTP server that records each
request (arrival time, path, query, headers), checks the key, and answers from scripted failures,
canned bodies or generated data.

A subclass says how its provider authenticates (:meth:`FakeApi.authorized`), what it answers when
the key is wrong (:meth:`FakeApi.unauthorized`) and how it generates bodies (:meth:`FakeApi.generate`).
A body may be ``bytes`` (sent as is: a corrupt page) or anything JSON-serialisable.
"""

import dataclasses
import datetime as dt
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

from ai_trader_assets import calendar
from ai_trader_assets.config import ProviderSpec, Retries, load_config

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def fixture_json(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def provider_spec(provider: str, *, unthrottled: bool = False) -> ProviderSpec:
    """The shipped spec of a provider for its tests: retries as shipped, a generous read timeout (a
    busy machine can take over half a second to generate a page); ``unthrottled`` lifts the rate
    limit, whose pacing has tests of its own (test_ratelimit)."""
    base = load_config().providers.providers[provider]  # type: ignore[index]
    update: dict[str, object] = {"timeouts": base.timeouts.model_copy(update={"read_seconds": 10})}
    if unthrottled:
        update["rate_limit"] = base.rate_limit.model_copy(
            update={"requests_per_second": 1000, "requests_per_minute": 60_000, "burst": 1000}
        )
    return base.model_copy(update=update)


def short_read_timeout(spec: ProviderSpec) -> ProviderSpec:
    """For the timeout tests only: a server that answers after a second times out."""
    return spec.model_copy(update={"timeouts": spec.timeouts.model_copy(update={"read_seconds": 0.5})})


class SleepRecorder:
    """Stands in for ``time.sleep`` in a provider's retry policy: records each wait, waits not."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def backed_off(self, retries: Retries) -> bool:
        """Whether each wait is the governor's exponential backoff for its attempt, with jitter."""
        bounds = [
            min(retries.initial_backoff_seconds * 2**attempt, retries.max_backoff_seconds)
            for attempt in range(len(self.waits))
        ]
        return all(
            low <= wait <= low + retries.jitter_seconds for low, wait in zip(bounds, self.waits, strict=True)
        )


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    at: float  # time.time() at arrival
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclasses.dataclass
class Scripted:
    path_contains: str
    status: int
    body: Any
    headers: dict[str, str]
    delay_seconds: float = 0.0


class FakeApi:
    """Start with ``with Server(...) as server:``; point the provider's base URL at ``server.url``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._scripted: deque[Scripted] = deque()
        self._canned: dict[str, deque[Any]] = {}
        self._lock = threading.Lock()
        # Load the calendar now: its first use takes ~0.5 s, longer than the tests' read timeout.
        calendar.is_session(dt.date(2026, 1, 2))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll: shutdown waits for it, and every test starts and stops a server.
        self._thread = threading.Thread(
            target=lambda: self._httpd.serve_forever(poll_interval=0.05), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # ------------------------------------------------------------ to override

    def authorized(self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return True

    def unauthorized(self) -> tuple[int, Any]:
        return 401, {"message": "unauthorized"}

    def error_body(self, status: int) -> Any:
        return {"message": f"HTTP {status}"}

    def generate(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------ scripting

    def fail(
        self,
        path_contains: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """The next ``times`` requests whose path contains ``path_contains`` get this response."""
        for _ in range(times):
            self._scripted.append(
                Scripted(
                    path_contains,
                    status,
                    self.error_body(status) if body is None else body,
                    headers or {},
                    delay_seconds,
                )
            )

    def heal(self) -> None:
        """Drop every scripted failure not served yet."""
        with self._lock:
            self._scripted.clear()

    def respond(self, path_contains: str, *bodies: Any) -> None:
        """Serve these bodies, in order, to requests whose path contains ``path_contains``."""
        self._canned.setdefault(path_contains, deque()).extend(bodies)

    def requests_to(self, path_contains: str) -> list[RecordedRequest]:
        return [r for r in self.requests if path_contains in r.path]

    # ------------------------------------------------------------- handling

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm on, each response
            # would stall ~40 ms waiting for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # silence the per-request stderr line
                return

            def do_GET(self) -> None:
                status, headers, payload, delay = server._route(self)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (a timeout test)

        return Handler

    def _route(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes, float]:
        status, headers, body, delay = self._respond(handler)
        if isinstance(body, bytes):
            return status, headers, body, delay
        return status, headers, json.dumps(body).encode(), delay

    def _respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Any, float]:
        parsed = urlparse(handler.path)
        query = parse_qs(parsed.query)
        headers = dict(handler.headers.items())
        with self._lock:
            self.requests.append(RecordedRequest(time.time(), parsed.path, query, headers))
            if not self.authorized(parsed.path, query, headers):
                status, body = self.unauthorized()
                return status, {}, body, 0.0
            for index, scripted in enumerate(self._scripted):
                if scripted.path_contains in parsed.path:
                    del self._scripted[index]
                    return scripted.status, scripted.headers, scripted.body, scripted.delay_seconds
            for pattern, bodies in self._canned.items():
                if pattern in parsed.path and bodies:
                    return 200, {}, bodies.popleft(), 0.0
        status, body = self.generate(parsed.path, query)
        return status, {}, body, 0.0
