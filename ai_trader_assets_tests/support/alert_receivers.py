"""Local stand-ins for the alert channels' far ends: an HTTP receiver (a Slack incoming webhook and a
generic JSON webhook, told apart by path) and an SMTP server (aiosmtpd) that checks a login.

Both record everything they are sent, as the raw bytes on the wire allow, so a test can look for a
secret in every message.
"""

import collections
import dataclasses
import json
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ai_trader_assets_tests.support.net import free_port

SLACK_PATH = "/services/T000/B000/"
WEBHOOK_PATH = "/pager/"


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Records POSTs; answers 200 unless told otherwise (:meth:`answer`)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: collections.deque[tuple[int, float]] = collections.deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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

    def answer(self, status: int, *, times: int = 1, delay_seconds: float = 0.0) -> None:
        """The next ``times`` requests get ``status`` (after ``delay_seconds``)."""
        self._answers.extend([(status, delay_seconds)] * times)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path.startswith(path)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status, delay = receiver._answers.popleft() if receiver._answers else (200, 0.0)
                if delay:
                    time.sleep(delay)
                payload = b"ok" if status == 200 else b"no_service"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


class _Mailbox:
    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.raw.append(content)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpReceiver:
    """An SMTP server on loopback (no TLS offered) that accepts one user and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.logins: list[tuple[str, bool]] = []
        self.mailbox = _Mailbox()
        self.port = free_port()
        self._controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            ready_timeout=10,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.user.encode(),
            self.password.encode(),
        )
        self.logins.append((data.login.decode() if isinstance(data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)

    def url(self, password: str | None = None, sender: str = "alerts@example.com") -> str:
        return f"smtp://{self.user}:{password or self.password}@127.0.0.1:{self.port}?from={sender}"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for raw in self.mailbox.raw]  # type: ignore[misc]

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()
