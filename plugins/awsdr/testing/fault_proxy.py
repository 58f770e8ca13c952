"""A fault-injecting HTTP proxy between AWS clients and the emulator: the bad day, on demand.

Point an :class:`~awsdr.aws.context.AwsContext` (or the ``aws_default`` connection's
``endpoint_url``) at :attr:`FaultProxy.url` instead of the moto server and, per request, with
shares fixed per run and a fixed seed:

- **throttle**: answered with the service's own throttling error, not forwarded (EC2
  ``RequestLimitExceeded`` 503, query APIs ``Throttling`` 400, JSON APIs ``ThrottlingException``
  400, S3 ``SlowDown`` 503);
- **server_error**: answered 500 or 503 in the service's error format, not forwarded;
- **reset**: the connection is reset (TCP RST) without an answer, not forwarded;
- **lost**: a *mutating* request is forwarded, the emulator does the work, and the client is told
  it failed (a 500, a 503 or a reset): the case that makes a blind resend create a second point;
- **latency** (+ ``jitter``): seconds added before forwarding.

Which requests get which fault is decided from ``(seed, service, operation, n)`` where ``n``
counts that operation's requests, so a serial run meets the same faults every time; concurrent
runs meet the same shares. ``/moto-api/`` (reset, recorder) is never faulted.

Extensible: a :class:`Rule` sees every call before it is forwarded (``before``: answer it
yourself, e.g. a copy quota's ``ResourceLimitExceeded``, or sleep for AWS-like latency) and every
answer after (``after``: rewrite it). :func:`error_answer` builds an error in the call's own
protocol. Standard library only; importable as ``awsdr.testing.fault_proxy`` by the tests, the
bench and ``make chaos``, and runnable in front of ``make run``'s emulator::

    PYTHONPATH=plugins python -m awsdr.testing.fault_proxy --upstream http://127.0.0.1:4566 \\
        --throttle 0.2 --lost 0.25 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

#: operation name prefixes that only read (everything else on query/JSON APIs mutates)
READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Head",
    "Scan",
    "Query",
    "BatchGet",
    "Lookup",
    "Search",
    "Check",
    "Validate",
    "Estimate",
    "Preview",
    "Simulate",
)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}

EC2 = "ec2"
QUERY = "query"
JSON = "json"
REST = "rest"


@dataclass(frozen=True)
class Faults:
    """Shares of requests to fault (0..1) and the seed that picks them.

    ``throttle``, ``server_error`` and ``reset`` are drawn first on every request (their sum at
    most 1); ``lost`` then applies to the mutating requests that were forwarded. ``services``
    limits faults to those signing names (``ec2``, ``rds``, ``dynamodb``, ``s3``...); None: all.
    """

    throttle: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    lost: float = 0.0
    latency: float = 0.0
    jitter: float = 0.0
    seed: int = 0
    services: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("throttle", "server_error", "reset", "lost"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Faults.{name} must be a share between 0 and 1")
        if self.throttle + self.server_error + self.reset > 1.0:
            raise ValueError("Faults: throttle + server_error + reset must not exceed 1")


@dataclass
class Call:
    """One request as the proxy saw it (rules read it; ``body`` is the raw request body)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    service: str
    region: str
    protocol: str
    operation: str
    mutating: bool


@dataclass
class Answer:
    """An HTTP answer (from the emulator, a fault or a rule)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reset: bool = False  #: drop the connection instead of answering


class Rule(Protocol):
    """A hook on every call: answer it before forwarding, or rewrite the emulator's answer."""

    def before(self, call: Call) -> Answer | None:
        """An answer that replaces forwarding (None: go on)."""

    def after(self, call: Call, answer: Answer) -> Answer:
        """The answer to send back (``answer`` itself when nothing changes)."""


def classify(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, str, str, bool]:
    """``(service, region, protocol, operation, mutating)`` of a signed AWS request."""
    lower = {k.lower(): v for k, v in headers.items()}
    scope = _SCOPE.search(lower.get("authorization", "")) or _SCOPE.search(path.replace("%2F", "/"))
    region, service = (scope.group(1), scope.group(2)) if scope else ("", "unknown")
    target = lower.get("x-amz-target")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return service, region, JSON, operation, not operation.startswith(READ_PREFIXES)
    if "x-www-form-urlencoded" in lower.get("content-type", "") and method == "POST":
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            protocol = EC2 if service == EC2 else QUERY
            return service, region, protocol, action, not action.startswith(READ_PREFIXES)
    route = urlsplit(path).path
    return service, region, REST, f"{method} {route}", method in ("PUT", "POST", "DELETE", "PATCH")


def error_answer(call: Call, code: str, status: int, message: str) -> Answer:
    """An error answer in the call's own protocol, as AWS would send it."""
    rid = str(uuid.uuid4())
    if call.protocol == JSON:
        body = json.dumps({"__type": code, "message": message}).encode()
        return Answer(status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": rid}, body)
    if call.protocol == EC2:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        )
    elif call.service == "s3":
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        )
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        text = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
    return Answer(status, {"Content-Type": "text/xml", "x-amz-request-id": rid}, text.encode())


def throttle_answer(call: Call) -> Answer:
    """The service's own throttling error."""
    if call.protocol == EC2:
        return error_answer(call, "RequestLimitExceeded", 503, "Request limit exceeded.")
    if call.service == "s3":
        return error_answer(call, "SlowDown", 503, "Please reduce your request rate.")
    if call.protocol == JSON:
        return error_answer(
            call, "ThrottlingException", 400, "Rate of requests exceeds the allowed throughput."
        )
    return error_answer(call, "Throttling", 400, "Rate exceeded")


def server_error_answer(call: Call, unavailable: bool) -> Answer:
    """A 500 (internal error) or 503 (service unavailable) in the service's format."""
    if unavailable:
        return error_answer(call, "ServiceUnavailable", 503, "Service is unavailable. Try again later.")
    code = {EC2: "InternalError", JSON: "InternalServerError"}.get(call.protocol, "InternalFailure")
    if call.service == "s3":
        code = "InternalError"
    return error_answer(call, code, 500, "An internal error occurred. Try again.")


class FaultProxy:
    """The proxy: a threaded HTTP server on 127.0.0.1 (a free port unless ``port`` is given).

    :param upstream: the emulator's URL (``http://127.0.0.1:<port>``).
    :param faults: what to inject.
    :param rules: hooks run on every call, in order (see :class:`Rule`).

    ``stats`` counts what was injected (``throttle``, ``server_error``, ``reset``, ``lost``) and
    forwarded; ``events`` lists ``(service, operation, fault)`` of every injected fault.
    """

    def __init__(
        self, upstream: str, faults: Faults | None = None, *, rules: Iterable[Rule] = (), port: int = 0
    ) -> None:
        split = urlsplit(upstream)
        self.upstream_host = split.hostname or "127.0.0.1"
        self.upstream_port = split.port or 80
        self.faults = faults or Faults()
        self.rules = list(rules)
        self.stats: Counter[str] = Counter()
        self.events: list[tuple[str, str, str]] = []
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_faults(self, faults: Faults) -> None:
        """Change the faults of the running proxy (e.g. none while seeding, then the storm)."""
        with self._lock:
            self.faults = faults

    def injected(self) -> int:
        """How many faults were injected so far."""
        return sum(v for k, v in self.stats.items() if k != "forwarded")

    # --- decisions ---------------------------------------------------------------------------

    def _draws(self, call: Call) -> tuple[Faults, float, float, float]:
        with self._lock:
            faults = self.faults
            key = (call.service, call.operation)
            n = self._seen[key]
            self._seen[key] += 1
        digest = hashlib.sha256(f"{faults.seed}|{call.service}|{call.operation}|{n}".encode()).digest()
        a, b, c = struct.unpack(">QQQ", digest[:24])
        scale = float(2**64)
        return faults, a / scale, b / scale, c / scale

    def _note(self, call: Call, fault: str) -> None:
        with self._lock:
            self.stats[fault] += 1
            self.events.append((call.service, call.operation, fault))

    def handle(self, call: Call) -> Answer:
        """The answer to one call: a rule's, a fault's, or the emulator's (possibly lost)."""
        for rule in self.rules:
            answer = getattr(rule, "before", lambda _c: None)(call)
            if answer is not None:
                return answer
        faults, draw, lose, pick = self._draws(call)
        exempt = call.path.startswith("/moto-api") or (
            faults.services is not None and call.service not in faults.services
        )
        if not exempt:
            if faults.latency or faults.jitter:
                time.sleep(faults.latency + random.Random(pick).uniform(0, faults.jitter))
            if draw < faults.throttle:
                self._note(call, "throttle")
                return throttle_answer(call)
            if draw < faults.throttle + faults.server_error:
                self._note(call, "server_error")
                return server_error_answer(call, unavailable=pick < 0.5)
            if draw < faults.throttle + faults.server_error + faults.reset:
                self._note(call, "reset")
                return Answer(0, reset=True)
        answer = self.forward(call)
        with self._lock:
            self.stats["forwarded"] += 1
        if not exempt and call.mutating and lose < faults.lost:
            self._note(call, "lost")
            if pick < 1 / 3:
                return Answer(0, reset=True)
            return server_error_answer(call, unavailable=pick < 2 / 3)
        for rule in self.rules:
            after = getattr(rule, "after", None)
            if after is not None:
                answer = after(call, answer)
        return answer

    def forward(self, call: Call) -> Answer:
        """Send the call to the emulator and read its whole answer."""
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=300)
        try:
            headers = {k: v for k, v in call.headers.items() if k.lower() not in _HOP_HEADERS}
            headers["Content-Length"] = str(len(call.body))
            conn.request(call.method, call.path, body=call.body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            out = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS}
            return Answer(resp.status, out, body)
        finally:
            conn.close()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._body()
            headers = dict(self.headers.items())
            service, region, protocol, operation, mutating = classify(self.command, self.path, headers, body)
            call = Call(
                self.command, self.path, headers, body, service, region, protocol, operation, mutating
            )
            try:
                answer = proxy.handle(call)
            except OSError as err:
                answer = Answer(502, {"Content-Type": "text/plain"}, f"fault proxy: upstream: {err}".encode())
            if answer.reset:
                self.close_connection = True
                # SO_LINGER 0: close() sends a TCP RST, as a dropped connection does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            self.send_response(answer.status)
            sent_length = False
            for k, v in answer.headers.items():
                if k.lower() == "content-length":
                    if self.command != "HEAD":
                        continue
                    sent_length = True
                self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(answer.body)))
            elif not sent_length:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if self.command != "HEAD" and answer.body:
                self.wfile.write(answer.body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve  # noqa: N815

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m awsdr.testing.fault_proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--upstream", required=True, help="the emulator, e.g. http://127.0.0.1:4566")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    for name in ("throttle", "server-error", "reset", "lost", "latency", "jitter"):
        parser.add_argument(f"--{name}", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    faults = Faults(
        throttle=args.throttle,
        server_error=args.server_error,
        reset=args.reset,
        lost=args.lost,
        latency=args.latency,
        jitter=args.jitter,
        seed=args.seed,
    )
    proxy = FaultProxy(args.upstream, faults, port=args.port).start()
    print(f"fault proxy {proxy.url} -> {args.upstream} ({faults})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        print(dict(proxy.stats), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
