"""Complete LINE webhook events, shaped as LINE documents them, and their signature.

Used by ``manage.py line_simulate`` (so a developer can play a LINE user against the
local webhook) and by the tests. Events must be complete: the SDK silently turns an event
missing a required field into ``UnknownEvent``.
"""

import base64
import hashlib
import hmac
import json
import os
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A ULID like LINE's ``webhookEventId`` (48-bit ms time + 80 random bits)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _common(event_type: str, user_id: str, *, redelivery: bool = False, timestamp_ms: int | None = None,
            event_id: str | None = None) -> dict:
    return {
        "type": event_type,
        "mode": "active",
        "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or ulid(),
        "deliveryContext": {"isRedelivery": redelivery},
    }


def follow(user_id: str, reply_token: str, *, unblocked: bool = False, **common) -> dict:
    return {**_common("follow", user_id, **common), "replyToken": reply_token, "follow": {"isUnblocked": unblocked}}


def unfollow(user_id: str, **common) -> dict:
    return _common("unfollow", user_id, **common)


def text_message(user_id: str, reply_token: str, text: str, **common) -> dict:
    message = {"id": str(int(time.time() * 1e6)), "type": "text", "text": text,
               "quoteToken": base64.urlsafe_b64encode(os.urandom(24)).decode()}
    return {**_common("message", user_id, **common), "replyToken": reply_token, "message": message}


def postback(user_id: str, reply_token: str, data: str, **common) -> dict:
    return {**_common("postback", user_id, **common), "replyToken": reply_token, "postback": {"data": data}}


def body(events: list[dict], destination: str = "U" + "0" * 32) -> bytes:
    return json.dumps({"destination": destination, "events": events}, ensure_ascii=False).encode()


def signature(channel_secret: str, raw_body: bytes) -> str:
    digest = hmac.new(channel_secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
