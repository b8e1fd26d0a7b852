"""``/line/webhook/<brand-slug>/``: verify, store, answer 200. Nothing else happens here.

The ``X-Line-Signature`` is checked over the raw body with the brand's channel secret
(the SDK's ``SignatureValidator``, constant-time); a missing or wrong signature gets 400 and only a security
log line. Events are stored under their unique ``webhookEventId`` and processed by a
Celery task after commit, so the answer stays fast and redeliveries change nothing.
"""

import json
import logging
import math

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from linebot.v3.webhook import SignatureValidator

from members.models import Brand

from .events import line_events_store

security_log = logging.getLogger("taem.security")


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt
@require_POST
def line_webhook(request, brand_slug: str):
    brand = Brand.objects.filter(slug=brand_slug, is_active=True).only("pk", "slug", "line_channel_secret").first()
    if brand is None:
        return HttpResponseNotFound()
    signature = request.headers.get("X-Line-Signature", "")
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        security_log.warning("line webhook: body is not UTF-8 brand=%s ip=%s", brand.slug, _client_ip(request))
        return HttpResponseBadRequest()
    if not signature or not brand.line_channel_secret:
        security_log.warning("line webhook: missing signature or secret brand=%s ip=%s", brand.slug,
                             _client_ip(request))
        return HttpResponseBadRequest()
    if not SignatureValidator(brand.line_channel_secret).validate(body, signature):
        security_log.warning("line webhook: bad signature brand=%s ip=%s", brand.slug, _client_ip(request))
        return HttpResponseBadRequest()
    raw_events = events_checked(body)
    if raw_events is None:
        security_log.warning("line webhook: body not shaped like LINE's brand=%s ip=%s", brand.slug,
                             _client_ip(request))
        return HttpResponseBadRequest()
    line_events_store(brand=brand, raw_events=raw_events)
    return HttpResponse("OK")


LATEST_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds


def _event_well_formed(event) -> bool:
    """The fields the webhook stores have the types LINE documents (the rest is the SDK's business)."""
    if not isinstance(event, dict):
        return False
    event_id, timestamp = event.get("webhookEventId"), event.get("timestamp", 0)
    return (
        (event_id in (None, "") or (isinstance(event_id, str) and len(event_id) <= 64))
        and isinstance(timestamp, int | float) and not isinstance(timestamp, bool)
        and 0 <= timestamp <= LATEST_TIMESTAMP_MS
        and isinstance(event.get("source") or {}, dict)
        and isinstance(event.get("deliveryContext") or {}, dict)
    )


def _storable(value) -> bool:
    """PostgreSQL's jsonb takes no NUL character, lone surrogate, NaN or infinity."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def events_checked(body: str) -> list[dict] | None:
    """The events of a signed body, or None when the body is not shaped as LINE sends it.

    Refused whole (LINE redelivers a refused request whole, so half of a batch is never
    stored). What the database cannot store is refused here too: no malformed body ever
    reaches the database as a 500.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    events = payload.get("events") or []
    if not isinstance(events, list) or not all(_event_well_formed(event) for event in events):
        return None
    return events if _storable(events) else None
