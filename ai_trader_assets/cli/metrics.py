"""``ai-trader metrics serve``: the platform's Prometheus metrics on ``/metrics`` and its health on
``/healthz``, computed on request by ``ai_trader_assets.ops.metrics`` (and cached a few seconds).

``/healthz`` answers from the checks of ``ai-trader health``: 200 when that command would exit 0
(healthy), 503 when it would exit 1 or 2 (degraded, down), with the report's JSON as the body.
``/livez`` answers 200 while the server runs (a container health check that reads no data).
"""

import signal
import socket
from socketserver import ThreadingMixIn
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import typer

from ai_trader_assets.cli.common import console, fail
from ai_trader_assets.config import ConfigError, cached_config
from ai_trader_assets.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from ai_trader_assets.ops.metrics import PlatformMetrics

DEFAULT_PORT = 9464
INDEX = b"ai-trader metrics: /metrics (Prometheus), /healthz (200 healthy, 503 degraded or down), /livez\n"

app = typer.Typer(help="Prometheus metrics of the platform.", no_args_is_help=True)


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface, in a container).")
    ] = "127.0.0.1",
    cache_seconds: Annotated[
        float,
        typer.Option(
            "--cache-seconds",
            min=0,
            help="How long a computation is served before the next scrape redoes it.",
        ),
    ] = 30.0,
) -> None:
    """Serve /metrics (Prometheus) and /healthz (200 when `ai-trader health` would exit 0, else 503)
    until stopped. Every value comes from the platform's database, lake and Dagster instance, so one
    server sees what every run did."""
    from ai_trader_assets.ops.metrics import PlatformMetrics
    from ai_trader_assets.planning.intraday import freshness

    try:
        settings = load_settings()
        config = cached_config(str(settings.config_dir))
    except (SettingsError, ConfigError) as exc:
        fail(exc)
    metrics = PlatformMetrics(settings, config, intraday=freshness, cache_seconds=cache_seconds)
    try:
        server = metrics_server(metrics, host, port)
    except OSError as exc:
        fail(RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"))
    signal.signal(signal.SIGTERM, _stop)  # `docker stop`, Kubernetes: end like Ctrl-C
    console.print(
        f"serving http://{host}:{server.server_port}/metrics and /healthz (Ctrl-C stops)", highlight=False
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request: a probe is answered while a scrape computes."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per scrape says nothing


def metrics_server(metrics: "PlatformMetrics", host: str, port: int) -> WSGIServer:
    """A server of :func:`metrics_app` bound to ``host``:``port`` (0: any free port); call
    ``serve_forever()`` on it."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server_class = type("MetricsServer", (_Server,), {"address_family": family})
    return make_server(
        host, port, metrics_app(metrics), server_class=server_class, handler_class=_QuietHandler
    )


def metrics_app(metrics: "PlatformMetrics") -> WSGIApplication:
    """The WSGI application: ``/metrics``, ``/healthz``, ``/livez`` and an index at ``/``."""
    from prometheus_client import CollectorRegistry, make_wsgi_app

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.collector())
    exposition = make_wsgi_app(registry)

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return list(exposition(environ, start_response))
        if path == "/healthz":
            report = metrics.health()
            status = "200 OK" if report.exit_code == 0 else "503 Service Unavailable"
            return _respond(start_response, status, (report.to_json() + "\n").encode(), "application/json")
        if path == "/livez":
            return _respond(start_response, "200 OK", b"ok\n")
        if path == "/":
            return _respond(start_response, "200 OK", INDEX)
        return _respond(start_response, "404 Not Found", b"not found: try /metrics or /healthz\n")

    return application


def _respond(
    start_response: StartResponse, status: str, body: bytes, kind: str = "text/plain"
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", f"{kind}; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]
