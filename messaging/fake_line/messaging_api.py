"""Messaging API endpoints of the fake: sending, profiles, quota, loading animation, link tokens.

Every handler is ``handler(fake, request) -> Response`` and runs with the state
lock held, after the dispatcher has authenticated the channel (``request.channel``)
and refused an ``X-Line-Retry-Key`` on endpoints that do not accept one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from .state import LINK_TOKEN_TTL, FakeLineState
from .wire import CHANNEL, Reject, Request, Response, Route, body_error, error, iso_time, ok

MAX_MESSAGES = 5
MAX_MULTICAST = 500
RETRY_KEY_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MESSAGE_TYPES = frozenset({
    "text", "textV2", "sticker", "image", "video", "audio", "location",
    "imagemap", "template", "flex", "coupon",
})
# A light subset of LINE's per-type required properties.
REQUIRED_FIELDS = {
    "text": ("text",),
    "textV2": ("text",),
    "sticker": ("packageId", "stickerId"),
    "image": ("originalContentUrl", "previewImageUrl"),
    "video": ("originalContentUrl", "previewImageUrl"),
    "audio": ("originalContentUrl", "duration"),
    "location": ("title", "address", "latitude", "longitude"),
    "imagemap": ("baseUrl", "altText", "baseSize", "actions"),
    "template": ("altText", "template"),
    "flex": ("altText", "contents"),
    "coupon": ("couponId",),
}


# --------------------------------------------------------------- validation

def validate_messages(messages: Any, prop: str = "messages") -> list[dict[str, str]]:
    """LINE-style error details for a ``messages`` array (1–5 message objects)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": prop}]
    details = []
    for i, message in enumerate(messages):
        where = f"{prop}[{i}]"
        if not isinstance(message, dict) or "type" not in message:
            details.append({"message": "must be specified", "property": f"{where}.type"})
            continue
        kind = message["type"]
        if kind not in MESSAGE_TYPES:
            details.append({"message": "Invalid message type", "property": f"{where}.type"})
            continue
        for name in REQUIRED_FIELDS[kind]:
            if message.get(name) in (None, ""):
                details.append({"message": "must be specified", "property": f"{where}.{name}"})
        if kind in ("text", "textV2") and len(str(message.get("text", ""))) > 5000:
            details.append({"message": "Length must be between 0 and 5000", "property": f"{where}.text"})
        if "altText" in message and len(str(message["altText"])) > 1500:
            details.append({"message": "Length must be between 0 and 1500", "property": f"{where}.altText"})
        items = (message.get("quickReply") or {}).get("items") if isinstance(message.get("quickReply"), dict) else None
        if items is not None and (not isinstance(items, list) or len(items) > 13):
            details.append({"message": "Size must be between 0 and 13", "property": f"{where}.quickReply.items"})
    return details


def _messages_or_reject(body: dict) -> list[dict]:
    details = validate_messages(body.get("messages"))
    if details:
        raise Reject(body_error(details))
    return body["messages"]


def _charge_quota(fake: FakeLineState, recipients: int) -> None:
    """429 when sending to ``recipients`` users would exceed the monthly limit."""
    if fake.quota_limit is not None and fake.quota_usage + recipients > fake.quota_limit:
        raise Reject(error(429, "You have reached your monthly limit."))


# ------------------------------------------------------------ retry-key ledger

def with_retry_key(fake: FakeLineState, req: Request, execute: Callable[[], Response]) -> Response:
    """Run a send under LINE's X-Line-Retry-Key semantics.

    Malformed key → 400. A key this channel already had accepted (within 24 h) →
    409 ``{"message": "The retry key is already accepted", ...original receipt}``
    with ``x-line-accepted-request-id``, without sending again. Otherwise send;
    a 2xx outcome records the key. Failed sends do not consume the key.
    """
    key = req.headers.get("x-line-retry-key")
    if key is None:
        return execute()
    if not RETRY_KEY_RE.match(key):
        return error(400, "The value for the 'X-Line-Retry-Key' header is invalid",
                     [{"message": "must be a hexadecimal UUID", "property": "X-Line-Retry-Key"}])
    accepted = fake.retry_key_accepted(req.channel or "", key)
    if accepted is not None:
        receipt = {k: v for k, v in accepted.body.items() if k == "sentMessages"}
        response = error(409, "The retry key is already accepted", **receipt)
        response.headers["x-line-accepted-request-id"] = accepted.request_id
        return response
    response = execute()
    if 200 <= response.status < 300:
        fake.accept_retry_key(req.channel or "", key, req.request_id, response.json() or {})
    return response


# ------------------------------------------------------------------ sending

def reply(fake: FakeLineState, req: Request) -> Response:
    body = req.json_object()
    details = validate_messages(body.get("messages"))
    if not isinstance(body.get("replyToken"), str) or not body["replyToken"]:
        details.append({"message": "must be specified", "property": "replyToken"})
    if details:
        return body_error(details)
    token = fake.reply_tokens.get(body["replyToken"])
    if token is None or token.used or fake.now() - token.issued_at >= fake.reply_token_ttl:
        return error(400, "Invalid reply token")
    token.used = True
    sent, _ = fake.deliver([token.user_id], body["messages"], via="reply", request_id=req.request_id)
    return ok({"sentMessages": sent})


def push(fake: FakeLineState, req: Request) -> Response:
    def execute() -> Response:
        body = req.json_object()
        details = validate_messages(body.get("messages"))
        if not isinstance(body.get("to"), str) or not body["to"]:
            details.append({"message": "must be specified", "property": "to"})
        if details:
            return body_error(details)
        user = fake.known_user(body["to"])
        if user is None:
            return error(400, "Failed to send messages")
        _charge_quota(fake, 0 if user.blocked else 1)
        sent, recipients = fake.deliver([user.user_id], body["messages"], via="push",
                                        request_id=req.request_id, retry_key=req.headers.get("x-line-retry-key"))
        fake.quota_usage += recipients
        return ok({"sentMessages": sent})

    return with_retry_key(fake, req, execute)


def multicast(fake: FakeLineState, req: Request) -> Response:
    def execute() -> Response:
        body = req.json_object()
        details = validate_messages(body.get("messages"))
        to = body.get("to")
        if not isinstance(to, list) or not 1 <= len(to) <= MAX_MULTICAST:
            details.append({"message": f"Size must be between 1 and {MAX_MULTICAST}", "property": "to"})
        elif not all(isinstance(u, str) and u for u in to):
            details.append({"message": "must be a user ID", "property": "to"})
        if details:
            return body_error(details)
        # Unknown user IDs are silently skipped, as LINE does for multicast.
        targets = [u.user_id for u in map(fake.known_user, to) if u is not None]
        return _send_to(fake, req, targets, body["messages"], via="multicast")

    return with_retry_key(fake, req, execute)


def broadcast(fake: FakeLineState, req: Request) -> Response:
    def execute() -> Response:
        messages = _messages_or_reject(req.json_object())
        return _send_to(fake, req, fake.friends(), messages, via="broadcast")

    return with_retry_key(fake, req, execute)


def narrowcast(fake: FakeLineState, req: Request) -> Response:
    """Delivers to every friend (``recipient``/``filter`` are recorded but not evaluated),
    capped by ``limit.max``; answers 202 and records a ``succeeded`` progress."""

    def execute() -> Response:
        body = req.json_object()
        messages = _messages_or_reject(body)
        targets = fake.friends()
        limit = (body.get("limit") or {}).get("max") if isinstance(body.get("limit"), dict) else None
        if isinstance(limit, int) and limit > 0:
            targets = targets[:limit]
        accepted = iso_time(fake.now())
        response = _send_to(fake, req, targets, messages, via="narrowcast", status=202)
        fake.narrowcasts[req.request_id] = {
            "phase": "succeeded",
            "successCount": len(targets),
            "failureCount": 0,
            "targetCount": len(targets),
            "acceptedTime": accepted,
            "completedTime": iso_time(fake.now()),
        }
        return response

    return with_retry_key(fake, req, execute)


def _send_to(fake: FakeLineState, req: Request, targets: list[str], messages: list[dict], *, via: str,
             status: int = 200) -> Response:
    _charge_quota(fake, sum(1 for t in dict.fromkeys(targets) if not _blocked(fake, t)))
    _, recipients = fake.deliver(targets, messages, via=via, request_id=req.request_id,
                                 retry_key=req.headers.get("x-line-retry-key"))
    fake.quota_usage += recipients
    return ok(status=status)


def _blocked(fake: FakeLineState, user_id: str) -> bool:
    user = fake.users.get(user_id)
    return user is not None and user.blocked


def narrowcast_progress(fake: FakeLineState, req: Request) -> Response:
    request_id = req.query.get("requestId")
    if not request_id:
        return body_error([{"message": "must be specified", "property": "requestId"}])
    progress = fake.narrowcasts.get(request_id)
    if progress is None:
        return error(404, "Not found")
    return ok(progress)


def validate(fake: FakeLineState, req: Request) -> Response:
    """POST /v2/bot/message/validate/{kind}: only the messages array is checked."""
    if req.params["kind"] not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        return error(404, "Not found")
    _messages_or_reject(req.json_object())
    return ok()


# ------------------------------------------------------- profile, quota, misc

def profile(fake: FakeLineState, req: Request) -> Response:
    user = fake.users.get(req.params["user_id"])
    if user is None or user.blocked:  # LINE only returns profiles of current friends
        return error(404, "Not found")
    return ok(user.profile())


def quota(fake: FakeLineState, req: Request) -> Response:
    if fake.quota_limit is None:
        return ok({"type": "none"})
    return ok({"type": "limited", "value": fake.quota_limit})


def quota_consumption(fake: FakeLineState, req: Request) -> Response:
    return ok({"totalUsage": fake.quota_usage})


def loading_start(fake: FakeLineState, req: Request) -> Response:
    body = req.json_object()
    details = []
    if not isinstance(body.get("chatId"), str) or not body["chatId"]:
        details.append({"message": "must be specified", "property": "chatId"})
    seconds = body.get("loadingSeconds")
    if seconds is not None and (not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5):
        details.append({"message": "must be a multiple of 5 between 5 and 60", "property": "loadingSeconds"})
    if details:
        return body_error(details)
    return ok(status=202)


def issue_link_token(fake: FakeLineState, req: Request) -> Response:
    user = fake.known_user(req.params["user_id"])
    if user is None or user.blocked:
        return error(400, "Failed to issue link token")
    token = secrets.token_urlsafe(24)
    fake.link_tokens[token] = {"userId": user.user_id, "expiresAt": fake.now() + LINK_TOKEN_TTL,
                               "used": False}
    return ok({"linkToken": token})


ROUTES: list[Route] = [
    Route("POST", "/v2/bot/message/reply", reply, auth=CHANNEL),
    Route("POST", "/v2/bot/message/push", push, auth=CHANNEL, retry_key=True),
    Route("POST", "/v2/bot/message/multicast", multicast, auth=CHANNEL, retry_key=True),
    Route("POST", "/v2/bot/message/narrowcast", narrowcast, auth=CHANNEL, retry_key=True),
    Route("POST", "/v2/bot/message/broadcast", broadcast, auth=CHANNEL, retry_key=True),
    Route("GET", "/v2/bot/message/progress/narrowcast", narrowcast_progress, auth=CHANNEL),
    Route("POST", "/v2/bot/message/validate/{kind}", validate, auth=CHANNEL),
    Route("GET", "/v2/bot/message/quota", quota, auth=CHANNEL),
    Route("GET", "/v2/bot/message/quota/consumption", quota_consumption, auth=CHANNEL),
    Route("GET", "/v2/bot/profile/{user_id}", profile, auth=CHANNEL),
    Route("POST", "/v2/bot/chat/loading/start", loading_start, auth=CHANNEL),
    Route("POST", "/v2/bot/user/{user_id}/linkToken", issue_link_token, auth=CHANNEL),
]
