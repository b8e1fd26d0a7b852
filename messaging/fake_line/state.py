"""In-memory state of the fake LINE platform and its Python-side helpers.

:class:`FakeLineState` holds everything the fake knows (channels, users, reply
tokens, the retry-key ledger, inboxes, rich menus, LINE Login codes and tokens,
the ES256 signing key, queued faults and the request log) behind one re-entrant
lock. The HTTP handlers run with that lock held; the public helpers take it too,
so tests may call them from any thread while the server is running.

All times come from ``self.clock`` (``time.time`` by default), so a test that
travels in time (``time_machine``) moves the fake's clock as well: reply tokens,
retry keys and ID tokens expire consistently with the code under test.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://access.line.me"
RETRY_KEY_WINDOW = 24 * 3600.0  # an accepted X-Line-Retry-Key is remembered this long
AUTH_CODE_TTL = 600.0  # LINE Login authorization codes
LINK_TOKEN_TTL = 600.0  # account-link tokens
USER_TOKEN_TTL = 30 * 24 * 3600  # LINE Login access tokens (expires_in)
REQUEST_LOG_SIZE = 10_000
FAULT_MODES = ("status", "accept_then_drop", "delay")
QUOTABLE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})  # get a quoteToken


@dataclass
class Channel:
    access_token: str
    login_channel_id: str | None = None
    channel_secret: str | None = None


@dataclass
class User:
    user_id: str
    display_name: str = ""
    picture_url: str | None = None
    blocked: bool = False
    status_message: str | None = None
    email: str | None = None
    language: str | None = None

    def profile(self) -> dict[str, str]:
        """The Messaging API / LINE Login profile JSON (absent fields are omitted, like LINE)."""
        data = {"userId": self.user_id, "displayName": self.display_name}
        if self.picture_url:
            data["pictureUrl"] = self.picture_url
        if self.status_message:
            data["statusMessage"] = self.status_message
        if self.language:
            data["language"] = self.language
        return data


@dataclass
class Fault:
    path: str
    mode: str = "status"
    status: int = 500
    times: int | None = 1  # None: until reset()/clear_faults()
    delay: float = 0.0

    def matches(self, path: str) -> bool:
        return path_matches(self.path, path)


@dataclass
class ReplyToken:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    used: bool = False


@dataclass
class UserToken:
    """A LINE Login (or LIFF) access token issued to a user."""

    user_id: str
    client_id: str
    scope: str
    expires_at: float
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class RichMenu:
    menu: dict[str, Any]  # the RichMenuResponse JSON (richMenuId, size, selected, name, chatBarText, areas)
    image: bytes | None = None
    image_type: str | None = None


@dataclass
class Accepted:
    """One entry of the retry-key ledger."""

    request_id: str
    body: dict[str, Any]
    accepted_at: float


def path_matches(pattern: str, path: str) -> bool:
    """Exact match, or prefix match when ``pattern`` ends with ``*``."""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


@dataclass
class _Counters:
    message: int = 0


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` requests a second, bursts of up to ``burst``."""

    per_second: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FakeLineState:
    """Everything the fake LINE platform remembers, plus the helpers tests use."""

    def __init__(self, accept_any_token: bool = False, reply_token_ttl: float = 60.0):
        self._defaults = (bool(accept_any_token), float(reply_token_ttl))
        self.lock = threading.RLock()
        self.clock = time.time
        # The signing key survives reset(), so JWKS caches in the code under test stay valid.
        self._signing_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = secrets.token_hex(8)
        self.reset()

    # ------------------------------------------------------------------ reset

    def reset(self) -> None:
        """Forget everything except the signing key; restore the constructor settings."""
        with self.lock:
            self.accept_any_token, self.reply_token_ttl = self._defaults
            self.channels: dict[str, Channel] = {}
            self.users: dict[str, User] = {}
            self.last_user_id: str | None = None
            self.reply_tokens: dict[str, ReplyToken] = {}
            self.retry_ledger: dict[tuple[str, str], Accepted] = {}
            self.inboxes: dict[str, list[dict[str, Any]]] = {}
            self.quota_limit: int | None = None  # None: quota type "none"
            self.quota_usage = 0
            self.narrowcasts: dict[str, dict[str, Any]] = {}
            self.rich_menu_store: dict[str, RichMenu] = {}
            self.rich_menu_links: dict[str, str] = {}
            self.default_rich_menu: str | None = None
            self.rich_menu_aliases: dict[str, str] = {}
            self.rich_menu_batches: dict[str, dict[str, Any]] = {}
            self.link_tokens: dict[str, dict[str, Any]] = {}
            self.auth_codes: dict[str, AuthCode] = {}
            self.user_tokens: dict[str, UserToken] = {}
            self.refresh_tokens: dict[str, str] = {}  # refresh token -> access token
            self.faults: list[Fault] = []
            self.log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
            self._counters = _Counters()
            self.rate_limits: dict[str, RateLimit] = {}
            self.status_counts: dict[tuple[str, int], int] = {}  # (path, status) -> requests, never truncated

    # ------------------------------------------------------------ seeding API

    def add_channel(self, access_token: str, login_channel_id: str | None = None,
                    channel_secret: str | None = None) -> Channel:
        """Register a Messaging API channel; its access token becomes a valid Bearer token."""
        with self.lock:
            channel = Channel(access_token, None if login_channel_id is None else str(login_channel_id),
                              channel_secret)
            self.channels[access_token] = channel
            return channel

    def add_user(self, user_id: str, display_name: str | None = None, picture_url: str | None = None,
                 blocked: bool | None = None, *, status_message: str | None = None, email: str | None = None,
                 language: str | None = None) -> User:
        """Add a LINE user who is a friend of the OA (``blocked``: has blocked it).

        A new user defaults to ``display_name=""``, no picture, not blocked. Adding
        an existing user updates only the fields passed (not None), so
        ``add_user(uid)`` never wipes a seeded profile and ``add_user(uid, blocked=True)``
        blocks. The most recently added user is the one LINE Login "logs in" by default.
        """
        with self.lock:
            user = self.users.get(user_id) or User(user_id)
            updates = {"display_name": display_name, "picture_url": picture_url, "blocked": blocked,
                       "status_message": status_message, "email": email, "language": language}
            for name, value in updates.items():
                if value is not None:
                    setattr(user, name, bool(value) if name == "blocked" else value)
            self.users[user_id] = user
            self.last_user_id = user_id
            return user

    def issue_reply_token(self, user_id: str) -> str:
        """A fresh single-use reply token for ``user_id`` (put it in the webhook event you send)."""
        with self.lock:
            token = secrets.token_hex(16)
            self.reply_tokens[token] = ReplyToken(user_id, self.clock())
            return token

    def mint_id_token(self, sub: str, aud: str, ttl: float = 3600, name: str | None = None,
                      picture: str | None = None, nonce: str | None = None, iat: float | None = None,
                      *, email: str | None = None, amr: list[str] | None = None) -> str:
        """An ES256 ID token signed by the fake (``iss`` = https://access.line.me, ``kid`` set)."""
        with self.lock:
            issued = int(self.clock() if iat is None else iat)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": sub,
            "aud": str(aud),
            "exp": issued + int(ttl),
            "iat": issued,
            "auth_time": issued,
            "amr": list(amr or ["linesso"]),
        }
        for key, value in (("nonce", nonce), ("name", name), ("picture", picture), ("email", email)):
            if value is not None:
                claims[key] = value
        return jwt.encode(claims, self._signing_key, algorithm="ES256", headers={"kid": self.kid})

    def issue_access_token(self, user_id: str, client_id: str, scope: str = "profile openid",
                           ttl: float = USER_TOKEN_TTL) -> str:
        """A LINE Login/LIFF user access token, as ``liff.getAccessToken()`` would return."""
        with self.lock:
            token = secrets.token_urlsafe(32)
            self.user_tokens[token] = UserToken(user_id, str(client_id), scope, self.clock() + ttl)
            return token

    def set_quota(self, limit: int | None = None, usage: int | None = None) -> None:
        """Monthly quota: ``limit`` None means unlimited (type "none"); ``usage`` sets totalUsage."""
        with self.lock:
            self.quota_limit = limit
            if usage is not None:
                self.quota_usage = int(usage)

    # ------------------------------------------------------------------ faults

    def add_fault(self, path: str, status: int = 500, times: int | None = 1, mode: str = "status",
                  delay: float = 0.0) -> None:
        """Queue a fault for the next ``times`` requests whose path matches ``path``.

        ``path`` is exact, or a prefix when it ends with ``*``. Modes: ``"status"``
        answers ``status`` without processing; ``"accept_then_drop"`` processes the
        request then closes the connection without a response; ``"delay"`` sleeps
        ``delay`` seconds then processes normally. ``times=None`` never runs out.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {FAULT_MODES}")
        if times is not None and int(times) < 1:
            raise ValueError("times must be >= 1 (or None for unlimited)")
        with self.lock:
            self.faults.append(Fault(path, mode, int(status), None if times is None else int(times),
                                     float(delay)))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # ------------------------------------------------------------- rate limits

    def set_rate_limit(self, path: str, per_second: float | None, burst: float | None = None) -> None:
        """Answer 429 to requests on ``path`` (exact, or a prefix ending in ``*``) beyond
        ``per_second`` a second (bursts up to ``burst``, default one second's worth), as LINE
        does per endpoint. ``per_second=None`` removes the limit."""
        with self.lock:
            if per_second is None:
                self.rate_limits.pop(path, None)
                return
            burst = float(burst if burst is not None else max(per_second, 1))
            self.rate_limits[path] = RateLimit(float(per_second), burst, burst, time.monotonic())

    def rate_limited(self, path: str) -> bool:
        """True when ``path`` is over its rate limit now (consumes a token otherwise)."""
        with self.lock:
            for pattern, limit in self.rate_limits.items():
                if path_matches(pattern, path) and not limit.take(time.monotonic()):
                    return True
        return False

    def take_fault(self, path: str) -> Fault | None:
        """The first queued fault matching ``path``, consuming one of its ``times``."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # -------------------------------------------------------------- inspection

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Logged LINE-endpoint requests, oldest first (control-plane calls are not logged).

        Each: ``method, path, query, headers (lower-case keys), body, status`` plus
        ``request_id``, ``time`` and ``dropped`` (True for accept_then_drop).
        ``path`` filters like a fault path (exact, or prefix with a trailing ``*``).
        """
        with self.lock:
            entries = [e for e in self.log if path is None or path_matches(path, e["path"])]
            return copy.deepcopy(entries)

    def inbox(self, user_id: str) -> list[dict[str, Any]]:
        """Messages actually delivered to ``user_id``, in order (each the message JSON)."""
        with self.lock:
            return [copy.deepcopy(d["message"]) for d in self.inboxes.get(user_id, [])]

    def delivery_counts(self) -> dict[str, int]:
        """LINE user id -> how many message objects were delivered to them (duplicates show as > 1)."""
        with self.lock:
            return {user_id: len(box) for user_id, box in self.inboxes.items()}

    def stats(self) -> dict[str, Any]:
        """Totals since the last reset: ``requests`` {"path status": count} (every request, not only the
        logged ones), ``users`` with at least one delivery, ``deliveries`` and ``maxPerUser``."""
        with self.lock:
            counts = [len(box) for box in self.inboxes.values()]
            return {
                "requests": {f"{path} {status}": n for (path, status), n in sorted(self.status_counts.items())},
                "users": sum(1 for n in counts if n),
                "deliveries": sum(counts),
                "maxPerUser": max(counts, default=0),
            }

    def deliveries(self, user_id: str) -> list[dict[str, Any]]:
        """Like :meth:`inbox` but with metadata: message, via, messageId, requestId, retryKey, time."""
        with self.lock:
            return copy.deepcopy(self.inboxes.get(user_id, []))

    def rich_menus(self) -> dict[str, Any]:
        """Snapshot: ``{"menus": {id: menu JSON + hasImage/imageContentType/imageSize},
        "default": id|None, "links": {userId: id}, "aliases": {aliasId: id}}``."""
        with self.lock:
            menus = {}
            for menu_id, rm in self.rich_menu_store.items():
                menus[menu_id] = {
                    **copy.deepcopy(rm.menu),
                    "hasImage": rm.image is not None,
                    "imageContentType": rm.image_type,
                    "imageSize": None if rm.image is None else len(rm.image),
                }
            return {
                "menus": menus,
                "default": self.default_rich_menu,
                "links": dict(self.rich_menu_links),
                "aliases": dict(self.rich_menu_aliases),
            }

    def user_rich_menu(self, user_id: str) -> str | None:
        """The rich menu linked to ``user_id`` itself (not the default), like GET /v2/bot/user/{id}/richmenu."""
        with self.lock:
            return self.rich_menu_links.get(user_id)

    # ------------------------------------------------- helpers for the handlers

    def now(self) -> float:
        return self.clock()

    def channel_known(self, token: str) -> bool:
        return self.accept_any_token or token in self.channels

    def known_user(self, user_id: str) -> User | None:
        """The user, auto-created when ``accept_any_token`` is on; else None if never added."""
        user = self.users.get(user_id)
        if user is None and self.accept_any_token:
            user = self.users[user_id] = User(user_id)
        return user

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._signing_key.public_key()

    def jwk(self) -> dict[str, Any]:
        key = jwt.algorithms.ECAlgorithm.to_jwk(self.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def retry_key_accepted(self, channel: str, key: str) -> Accepted | None:
        accepted = self.retry_ledger.get((channel, key.lower()))
        if accepted is not None and self.now() - accepted.accepted_at > RETRY_KEY_WINDOW:
            del self.retry_ledger[(channel, key.lower())]
            return None
        return accepted

    def accept_retry_key(self, channel: str, key: str, request_id: str, body: dict[str, Any]) -> None:
        self.retry_ledger[(channel, key.lower())] = Accepted(request_id, copy.deepcopy(body), self.now())

    def next_message_id(self) -> str:
        self._counters.message += 1
        return str(500_000_000_000_000_000 + self._counters.message)

    def deliver(self, user_ids: list[str], messages: list[dict[str, Any]], *, via: str, request_id: str,
                retry_key: str | None = None) -> tuple[list[dict[str, str]], int]:
        """Put ``messages`` in the inbox of each non-blocked user of ``user_ids``.

        Returns ``(sentMessages, recipients)``: the receipt LINE answers with, one
        entry per message object, and how many users actually received them.
        """
        sent = []
        for message in messages:
            receipt = {"id": self.next_message_id()}
            if message.get("type") in QUOTABLE_TYPES:
                receipt["quoteToken"] = secrets.token_urlsafe(24)
            sent.append(receipt)
        recipients = 0
        for user_id in dict.fromkeys(user_ids):  # de-duplicated, order kept
            user = self.users.get(user_id)
            if user is not None and user.blocked:
                continue
            recipients += 1
            box = self.inboxes.setdefault(user_id, [])
            for message, receipt in zip(messages, sent, strict=True):
                box.append({
                    "message": copy.deepcopy(message),
                    "via": via,
                    "messageId": receipt["id"],
                    "requestId": request_id,
                    "retryKey": retry_key,
                    "time": self.now(),
                })
        return sent, recipients

    def friends(self) -> list[str]:
        """Users who currently follow the OA (not blocked), in the order they were added."""
        return [u.user_id for u in self.users.values() if not u.blocked]

    def record(self, entry: dict[str, Any]) -> None:
        self.log.append(entry)
        key = (entry["path"], entry["status"])
        self.status_counts[key] = self.status_counts.get(key, 0) + 1
