"""A local fake of Have I Been Pwned's range API: a real HTTP server on an ephemeral port.

It answers `GET /range/<prefix>` as the real one does with `Add-Padding: true`: the suffixes of
the breached passwords it was given that fall in that range, hidden among padding lines of
random suffixes with a count of 0, 800 to 1,000 lines in all. It records every request (path
and headers), and can be made to fail: `down` (connection refused), `slow` (waits before
answering), `drip` (sends its answer a byte at a time), `garbage`, `error` (HTTP 503).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]


@dataclass
class FakeRangeApi:
    breached: dict[str, int] = field(default_factory=dict)  # SHA-1 (upper hex) -> count
    requests: list[RecordedRequest] = field(default_factory=list)
    mode: str = "ok"
    delay_seconds: float = 2.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/range/"

    def breach(self, *passwords: str, count: int = 42) -> None:
        for password in passwords:
            self.breached[hashlib.sha1(password.encode()).hexdigest().upper()] = count  # noqa: S324

    def range_body(self, prefix: str) -> str:
        lines = [f"{sha1[5:]}:{count}" for sha1, count in self.breached.items() if sha1.startswith(prefix)]
        padding = 800 + secrets.randbelow(201) - len(lines)
        lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(padding)]
        secrets.SystemRandom().shuffle(lines)
        return "\r\n".join(lines)


def _handler(fake: FakeRangeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # The client may give up waiting, as it should.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer()

        def _answer(self) -> None:
            fake.requests.append(RecordedRequest(self.path, dict(self.headers.items())))
            if fake.mode == "slow":
                time.sleep(fake.delay_seconds)
            if fake.mode == "error":
                self.send_response(503)
                self.end_headers()
                return
            prefix = self.path.rsplit("/", 1)[-1]
            body = (
                "<html>not a range</html>" if fake.mode == "garbage" else fake.range_body(prefix.upper())
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fake.mode == "drip":
                for start in range(0, len(body), 64):
                    self.wfile.write(body[start : start + 64])
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def fake_range_api_start() -> FakeRangeApi:
    fake = FakeRangeApi()
    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.server.daemon_threads = True
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()
    return fake


def fake_range_api_stop(fake: FakeRangeApi) -> None:
    assert fake.server is not None
    fake.server.shutdown()
    fake.server.server_close()


def unused_port_url() -> str:
    """A range URL on a port nothing listens on: the API is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/range/"


def prefixes_only(requests: Iterable[RecordedRequest]) -> bool:
    """Whether every request carried a 5-hex-character prefix and nothing more."""
    import re

    return all(re.fullmatch(r"/range/[0-9A-F]{5}", request.path) for request in requests)
