"""A fake provincial platform on loopback, for tests, benchmarks and a developer's machine.

It speaks the protocol of sender.py: validates each POSTed message against the XSD, stores it
by BizMsgID and answers `{"status": "accepted", "receipt": …}` — a repeat of a stored message
gets `"duplicate"` with the first receipt (idempotent), unless told to be careless
(`careless_repeats`: a new receipt, as a platform that registers a message twice). It can be
told to fail (500) a fraction of requests, to time out (store the message, then answer too
late), to refuse given message ids, and to be stopped and started again on the same port with
what it stored (`PlatformState` outlives the server, as a real platform's database does).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from registry.services.exchange.messages import validate

LOOPBACK = "127.0.0.1"


@dataclass
class PlatformState:
    """What the platform stored and how it is told to behave (thread-safe)."""

    token: str | None = None
    fail_every: int = 0  # every n-th request answers 500 (0: never)
    timeouts: int = 0  # the next n requests store the message, then answer after `slow`
    slow: float = 2.0
    refuse: set[str] = field(default_factory=set)  # BizMsgIDs refused (422)
    careless_repeats: bool = False
    requests: int = 0
    received: dict[str, str] = field(default_factory=dict)  # BizMsgID → receipt
    receipts: dict[str, list[str]] = field(default_factory=dict)  # BizMsgID → every receipt
    order: list[tuple[str, str]] = field(default_factory=list)  # (AreaCode, RecFlowID) stored
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any], float]:
        """(status, JSON answer, seconds to wait before answering)."""
        with self.lock:
            self.requests += 1
            number = self.requests
            if self.token and headers.get("Authorization") != f"Bearer {self.token}":
                return 401, {"status": "error", "reason": "unauthorised"}, 0.0
            if self.fail_every and number % self.fail_every == 0:
                return 500, {"status": "error", "reason": "internal error"}, 0.0
            problems = validate(body)
            if problems:
                return 422, {"status": "refused", "reason": problems[0]}, 0.0
            root = etree.fromstring(body)
            ident = root.findtext("Head/BizMsgID") or ""
            if ident != headers.get("X-Message-ID"):
                return 422, {"status": "refused", "reason": "X-Message-ID ≠ BizMsgID"}, 0.0
            if ident in self.refuse:
                return 422, {"status": "refused", "reason": "数据项不符合汇交要求"}, 0.0
            delay = 0.0
            if self.timeouts > 0:
                self.timeouts -= 1
                delay = self.slow
            if ident in self.received and not self.careless_repeats:
                return 200, {"status": "duplicate", "receipt": self.received[ident]}, delay
            receipt = f"R{ident}-{len(self.receipts.get(ident, [])) + 1}"
            self.received.setdefault(ident, receipt)
            self.receipts.setdefault(ident, []).append(receipt)
            self.order.append((root.findtext("Head/AreaCode") or "",
                               root.findtext("Head/RecFlowID") or ""))
            return 200, {"status": "accepted", "receipt": receipt}, delay


class FakePlatform:
    """The HTTP server around a PlatformState; `stop()` then `start()` is a restart."""

    def __init__(self, state: PlatformState | None = None, port: int = 0) -> None:
        self.state = state or PlatformState()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/exchange"

    def start(self) -> FakePlatform:
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, answer, delay = state.answer(self.headers, self.rfile.read(length))
                if delay:
                    time.sleep(delay)
                data = json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (a timeout)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        name="fake-exchange-platform")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self, between: Callable[[], None] | None = None) -> None:
        self.stop()
        if between is not None:
            between()
        self.start()

    def __enter__(self) -> FakePlatform:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
