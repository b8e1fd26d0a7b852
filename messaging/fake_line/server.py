"""A fake LINE platform that speaks LINE's HTTP contract on localhost.

Tests and local development point the *real* clients at it (``line-bot-sdk`` via
``Configuration(host=fake.base_url)``, django-allauth's LINE adapter URLs, our own
ID-token verification) instead of api.line.me / api-data.line.me /
access.line.me. One host serves all of them. Standard library only (plus PyJWT
and cryptography for ES256); no Django, so it also runs standalone::

    python -m messaging.fake_line --port 8099 [--accept-any-token]

In-process (pytest)::

    fake = FakeLineServer().start()          # port 0: an ephemeral port
    fake.add_channel("token-1")
    fake.add_user("U" + "0" * 32, "Somchai")
    cfg = Configuration(host=fake.base_url, access_token="token-1")
    ...
    fake.inbox("U" + "0" * 32)               # messages actually delivered
    fake.stop()

What it implements (the LINE briefing's §8.3 describes the real platform's behaviour):

* Messaging API (``messaging_api.py``): reply (issued, unused reply tokens younger
  than ``reply_token_ttl``), push / multicast (≤ 500) / narrowcast (202) /
  broadcast with the ``X-Line-Retry-Key`` ledger (first → 2xx, same key → 409
  with the original receipt and ``x-line-accepted-request-id``, malformed → 400,
  a retry key anywhere else → 400), unknown push target → 400 "Failed to send
  messages", blocked users → 200 but nothing delivered, profile (404 unless a
  friend), quota (``set_quota`` makes 429s), loading animation, link tokens.
* Rich menus (``rich_menu_api.py``): CRUD, validate, image upload/download
  (PNG/JPEG only → else 415, ≤ 1 MB), per-user link/unlink, bulk link/unlink,
  default menu, batch, aliases.
* LINE Login v2.1 (``login_api.py``): authorize (auto-consent 302 with code and
  state, PKCE S256), token (code → access/refresh/ID token), verify ID token
  (ES256 signature, iss, aud == client_id, exp, nonce), verify access token,
  revoke, ``/v2/profile``, userinfo, JWKS at ``/oauth2/v2.1/certs``.
* Control plane (``control.py``) under ``/__fake__/``: reset, channels, users,
  reply_token, id_token, access_token, faults, quota, rate_limits, requests, stats, inbox,
  rich_menus.
* Rate limits (``set_rate_limit``, off by default): requests beyond the configured rate on
  a path answer 429 "The API rate limit has been exceeded", as LINE does per endpoint.
  The same operations exist as Python methods (``state.py``).

Every response carries ``x-line-request-id``. Messaging API endpoints require
``Authorization: Bearer <token of a registered channel>`` (any token when
``accept_any_token``; then unknown user IDs are auto-created too) and answer
401 otherwise. Errors are ``{"message": ..., "details": [...]}``; LINE Login
errors are ``{"error": ..., "error_description": ...}``.

Faults (``add_fault``) match a path exactly, or by prefix when it ends with ``*``:
``status`` answers the status without processing; ``accept_then_drop`` processes
the request (a push is delivered and its retry key accepted) then closes the
connection without any response; ``delay`` sleeps, then processes.

Request flow: :meth:`FakeLineServer.handle` parses the request, short-cuts the
control plane, applies a queued fault, finds the route in :data:`ROUTES`,
authenticates the channel, runs the handler under the state lock and logs the
exchange (bounded to the last 10,000 requests). The HTTP layer
(:class:`_HTTPHandler`) only moves bytes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import control, login_api, messaging_api, rich_menu_api
from .state import FakeLineState
from .wire import CHANNEL, Reject, Request, Response, Route, error

CONTROL_PREFIX = "/__fake__/"

ROUTES: list[Route] = [
    *control.ROUTES,
    *messaging_api.ROUTES,
    *rich_menu_api.ROUTES,
    *login_api.ROUTES,
]

MISSING_AUTH = "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
INVALID_AUTH = "Authentication failed. Confirm that the access token in the authorization header is valid."


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_known): path_known is True when only the method is wrong."""
    path_known = False
    for route in ROUTES:
        m = route.regex.match(path)
        if m is None:
            continue
        if route.method == method:
            return route, m.groupdict(), True
        path_known = True
    return None, {}, path_known


def parse_body(headers: dict[str, str], raw: bytes) -> Any:
    """JSON or form bodies become Python objects; anything else (images) is None."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json" and raw:
            return json.loads(raw.decode("utf-8"))
        if content_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        return None
    return None


class FakeLineServer(FakeLineState):
    """The fake LINE platform: state + helpers (:class:`FakeLineState`) + an HTTP server.

    ``start()`` serves on ``host:port`` (port 0 picks a free one) from a daemon
    thread and returns ``self``; ``base_url`` is then e.g. ``http://127.0.0.1:54321``.
    Usable as a context manager.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, accept_any_token: bool = False,
                 reply_token_ttl: float = 60.0, verbose: bool = False):
        super().__init__(accept_any_token=accept_any_token, reply_token_ttl=reply_token_ttl)
        self.host, self.port, self.verbose = host, port, verbose
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------- lifecycle

    def start(self) -> FakeLineServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self.host, self.port), _HTTPHandler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"fake-line:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeLineServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 - not binding
        return f"http://{host}:{self.port}"

    # ---------------------------------------------------------------- dispatch

    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> tuple[Response, bool]:
        """Process one request; returns (response, drop_connection). Socket-free, so testable."""
        parts = urlsplit(target)
        req = Request(
            method=method.upper(),
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            raw_body=raw_body,
            body=parse_body(headers, raw_body),
            request_id=str(uuid.uuid4()),
        )
        route, params, path_known = match_route(req.method, req.path)
        req.params = params
        if req.path.startswith(CONTROL_PREFIX):
            response = self._run(route, req) if route else error(405 if path_known else 404, "Not found")
            return self._stamp(response, req), False

        fault = self.take_fault(req.path)
        if fault is not None and fault.mode == "status":
            response = error(fault.status, _reason(fault.status))
        elif self.rate_limited(req.path):
            fault = None
            response = error(429, RATE_LIMITED)
        else:
            if fault is not None and fault.mode == "delay":
                time.sleep(fault.delay)
            response = self._process(route, path_known, req)
        dropped = fault is not None and fault.mode == "accept_then_drop"
        self._stamp(response, req)
        with self.lock:
            self.record({
                "method": req.method, "path": req.path, "query": req.query, "headers": dict(req.headers),
                "body": req.body, "status": response.status, "request_id": req.request_id,
                "time": self.now(), "dropped": dropped,
            })
        return response, dropped

    def _process(self, route: Route | None, path_known: bool, req: Request) -> Response:
        if route is None:
            return error(405, "Method Not Allowed") if path_known else error(404, "Not found")
        if route.auth == CHANNEL:
            token = req.bearer()
            if token is None:
                return error(401, MISSING_AUTH)
            with self.lock:
                if not self.channel_known(token):
                    return error(401, INVALID_AUTH)
            req.channel = token
            if "x-line-retry-key" in req.headers and not route.retry_key:
                return error(400, "The X-Line-Retry-Key header is not supported by this endpoint",
                             [{"message": "not allowed", "property": "X-Line-Retry-Key"}])
        return self._run(route, req)

    def _run(self, route: Route, req: Request) -> Response:
        try:
            with self.lock:
                return route.handler(self, req)
        except Reject as rejection:
            return rejection.response
        except Exception as exc:  # a bug in the fake: say so loudly, but keep serving
            traceback.print_exc(file=sys.stderr)
            return error(500, f"fake LINE server error: {exc!r}")

    @staticmethod
    def _stamp(response: Response, req: Request) -> Response:
        response.headers.setdefault("x-line-request-id", req.request_id)
        return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Injected fault"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: FakeLineServer


class _HTTPHandler(BaseHTTPRequestHandler):
    """Moves bytes between the socket and :meth:`FakeLineServer.handle` (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeLINE/1.0"
    timeout = 30  # seconds an idle keep-alive connection may hold its thread
    server: _Server

    def _serve(self) -> None:
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        response, drop = self.server.fake.handle(self.command, self.path, headers, raw)
        if drop:  # accept_then_drop: the work is done, the client never hears about it
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. a timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.fake.verbose:
            super().log_message(format, *args)
