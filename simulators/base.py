"""What every provider simulator shares: a loopback server in a thread, a request log, faults.

A simulator is a `ThreadingHTTPServer` on 127.0.0.1 and a free port. A subclass holds the
provider's state (known credentials, later payments) and answers requests in `answer()`; the
shared `respond()` records each request and injects the fault a test asked for.

The faults cover what a provider's network does to a call, before or after the provider acts:
a 500, an unparseable body, a 429 with Retry-After and a replayed earlier answer (none of which
act), a request held and then dropped without acting, a connection closed at accept, an answer
that comes late (it acted; a short client timeout turns it into a lost answer), and one reset
half-way through its body (it acted).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import socket
import struct
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

# Not valid JSON, XML or NVP, and not valid UTF-8 either.
GARBAGE = b"\x00\xff<<not a provider answer"


class Fault(enum.Enum):
    """What a simulator does instead of answering properly."""

    HTTP_500 = "http_500"  # an internal server error
    GARBAGE = "garbage"  # HTTP 200 with a body no client can parse
    SLOW = "slow"  # the proper answer, but only after `slow_seconds`
    # Held for `slow_seconds`, then the connection is reset without an answer and without acting
    # (with a shorter client timeout: a timeout before the provider acted).
    DROP = "drop"
    REFUSED = "refused"  # the connection is reset at accept, before the request is read
    RESET_MID_BODY = "reset_mid_body"  # it acts, sends half the answer's body, then resets
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After: `retry_after_seconds`; nothing done
    # The provider replays its previous answer (to any request) for this one, without acting.
    REPLAY = "replay"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    # Reset the connection after this many bytes of `body` (None: send it all).
    reset_after: int | None = None


# No answer at all: the handler resets the connection.
_DROPPED = Response(0, b"", "text/plain", reset_after=0)


class Simulator(ThreadingHTTPServer):
    """A provider's API on http://127.0.0.1:<free port>, served from a background thread."""

    daemon_threads = True
    # The Content-Type the provider uses; also sent with `Fault.GARBAGE`.
    content_type = "application/json"
    internal_error = Response(500, b"<html><h1>500 Internal Server Error</h1></html>", "text/html")
    rate_limited = Response(429, b"Too many requests", "text/plain")

    # 0 picks a free port (tests); the demo runner binds each simulator to a fixed one.
    bind_port = 0

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", self.bind_port), _Handler)
        self.fault: Fault | None = None
        self.slow_seconds = 2.0
        self.retry_after_seconds = 1
        self.received: list[Request] = []
        # Exceptions raised by `answer()`: a bug in the simulator, which the fixtures report.
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._release_slow = threading.Event()
        self._last_answer: Response | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release_slow.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def reset(self) -> None:
        """Forget the fault, the request log and the provider's state."""
        # Slow answers still waiting from the last test finish now instead of later.
        self._release_slow.set()
        self._release_slow = threading.Event()
        self.fault = None
        self.slow_seconds = 2.0
        self.retry_after_seconds = 1
        with self._lock:
            self.received.clear()
            self.errors.clear()
            self._last_answer = None

    def release_slow(self) -> None:
        """End the wait of every SLOW or DROP request held now (later ones wait again)."""
        self._release_slow.set()
        self._release_slow = threading.Event()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.fault is Fault.REFUSED:
            _reset_on_close(request)
            return False  # socketserver closes the connection unread
        return super().verify_request(request, client_address)

    def respond(self, request: Request) -> Response:
        with self._lock:
            self.received.append(request)
            last_answer = self._last_answer
        fault = self.fault
        if fault is Fault.HTTP_500:
            return self.internal_error
        if fault is Fault.GARBAGE:
            return Response(200, GARBAGE, self.content_type)
        if fault is Fault.RATE_LIMITED:
            headers = {"Retry-After": str(self.retry_after_seconds)}
            return dataclasses.replace(self.rate_limited, headers=headers)
        if fault is Fault.REPLAY and last_answer is not None:
            return last_answer
        if fault in (Fault.SLOW, Fault.DROP):
            self._release_slow.wait(self.slow_seconds)
        if fault is Fault.DROP:
            return _DROPPED
        try:
            response = self.answer(request)
        except Exception:
            with self._lock:
                self.errors.append(traceback.format_exc())
            return Response(599, b"simulator error", "text/plain")
        finally:
            self.after_request()
        with self._lock:
            self._last_answer = response
        if fault is Fault.RESET_MID_BODY:
            return dataclasses.replace(response, reset_after=len(response.body) // 2)
        return response

    def after_request(self) -> None:
        """A hook run after every answer (the demo runner saves the provider's state here)."""

    def provider_state(self) -> dict[str, Any]:
        """The provider's state: what a subclass added to the server's own attributes."""
        return {name: value for name, value in vars(self).items() if name not in _SERVER_ATTRIBUTES}

    def answer(self, request: Request) -> Response:
        """The provider's answer to `request`; subclasses implement their API here."""
        raise NotImplementedError

    def not_simulated(self, request: Request) -> Response:
        body = f"{type(self).__name__} does not simulate {request.method} {request.path}"
        return Response(501, body.encode(), "text/plain")


# Every attribute a bare Simulator has: what is not among them is a provider's state.
_SERVER_ATTRIBUTES = frozenset(
    {
        *vars(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler, False)),
        "fault",
        "slow_seconds",
        "received",
        "errors",
        "_lock",
        "_release_slow",
        "retry_after_seconds",
        "_last_answer",
        "_thread",
        "_threads",  # ThreadingMixIn's, set on the first request
        "server_name",  # HTTPServer.server_bind's
        "server_port",
    }
)


def _reset_on_close(connection: socket.socket) -> None:
    """Make closing `connection` send a TCP reset instead of an orderly end."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Handler(BaseHTTPRequestHandler):
    server: Simulator

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        # CORS preflight for the stand-in browser scripts, which call the simulator from our page.
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers=self.headers,
            body=self.rfile.read(length),
        )
        response = self.server.respond(request)
        try:
            if response is not _DROPPED:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body[: response.reset_after])
            if response.reset_after is not None:
                self.wfile.flush()
                _reset_on_close(self.connection)
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (a timeout); there is no one to answer

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line is logged: bodies and headers carry credentials.
        logger.debug("%s: %s", type(self.server).__name__, format % args)
