"""Request/response value types and response builders shared by the fake's handlers.

Handlers receive a parsed :class:`Request` and return a :class:`Response`; when a
check fails deep inside a helper it raises :class:`Reject` carrying the response
to send. Nothing here touches sockets.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case keys
    raw_body: bytes
    body: Any  # parsed JSON, form dict, or None
    request_id: str
    params: dict[str, str] = field(default_factory=dict)  # path parameters from the route
    channel: str | None = None  # the bearer token of the authenticated Messaging API channel

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def json_object(self) -> dict:
        """The body as a JSON object, or a 400 in LINE's error format."""
        if not isinstance(self.body, dict) or self.content_type != "application/json":
            raise Reject(error(400, "The request body has 1 error(s)", [{"message": "must be a JSON object"}]))
        return self.body

    def form(self) -> dict:
        """Form fields (LINE Login endpoints are form-encoded; JSON objects are tolerated)."""
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Reject(Exception):  # noqa: N818 - it carries a response, it is not an error of the fake
    """Abort the current handler and send ``response`` instead."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class Route:
    """One row of the routing table.

    ``pattern`` uses ``{name}`` placeholders for single path segments. ``auth`` is
    ``"channel"`` for Messaging API endpoints (Bearer channel access token) or
    ``None``. ``retry_key`` marks the endpoints that accept ``X-Line-Retry-Key``.
    ``control`` marks the fake's own ``/__fake__/`` endpoints (never logged or faulted).
    """

    method: str
    pattern: str
    handler: Callable[..., Response]
    auth: str | None = None
    retry_key: bool = False
    control: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(pattern)
    # split() alternates literal text and placeholder names
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


CHANNEL = "channel"  # Route.auth value: Bearer channel access token required


def iso_time(timestamp: float) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, as LINE formats acceptedTime/completedTime."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def ok(obj: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {} if obj is None else obj, headers)


def error(status: int, message: str, details: list[dict] | None = None, **extra: Any) -> Response:
    """Messaging API error body: ``{"message": ..., "details": [...]}`` (+ extra keys)."""
    return json_response(status, {"message": message, "details": list(details or []), **extra})


def oauth_error(status: int, error_code: str, description: str) -> Response:
    """LINE Login error body: ``{"error": ..., "error_description": ...}``."""
    return json_response(status, {"error": error_code, "error_description": description})


def redirect(base: str, params: dict[str, str]) -> Response:
    sep = "&" if "?" in base else "?"
    location = f"{base}{sep}{urlencode(params)}" if params else base
    return Response(302, b"", "text/plain", {"Location": location})


def body_error(details: list[dict]) -> Response:
    """The 400 LINE returns for an invalid request body."""
    return error(400, f"The request body has {len(details)} error(s)", details)
