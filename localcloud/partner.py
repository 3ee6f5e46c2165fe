"""A stand-in for the partner's API on 127.0.0.1: records what it receives, checks the key, fails on demand.

It answers 401 to a request without the expected ``x-api-key`` (the connection's key), 400 to a body
that is not JSON, 503 while ``failing`` says so (a callable given the parsed body: fault injection),
and 200 otherwise, keeping every accepted body in order.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcloud.signals import event_ids
from signal_platform import codec


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class PartnerStandIn:
    def __init__(self, *, api_key: str | None, header: str = "x-api-key") -> None:
        self.api_key = api_key
        self.header = header.lower()
        self.received: list[Received] = []
        self.refused: Counter[int] = Counter()
        self.failing: Callable[[Any], bool] = lambda body: False  # noqa: ARG005
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the partner stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0) -> PartnerStandIn:
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed ACK

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = partner.handle(self.path, headers, raw)
                payload = b'{"ok":true}' if status == 200 else b'{"ok":false}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_POST  # noqa: N815

            def log_message(self, *_args: Any) -> None:  # silence the access log
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="partner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        if self.api_key is not None and headers.get(self.header) != self.api_key:
            return self._refuse(401)
        try:
            body = codec.loads(raw)
        except codec.JSONDecodeError:
            return self._refuse(400)
        if self.failing(body):
            return self._refuse(503)
        with self._lock:
            self.received.append(Received(path, headers, body))
        return 200

    def _refuse(self, status: int) -> int:
        with self._lock:
            self.refused[status] += 1
        return status

    def event_ids(self) -> Counter[str]:
        with self._lock:
            bodies = [received.body for received in self.received]
        return Counter(event_id for body in bodies for event_id in event_ids(body))
