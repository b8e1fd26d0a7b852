"""``/line/webhook/<brand-slug>/``: verify, store, answer 200. Nothing else happens here.

The ``X-Line-Signature`` is checked over the raw body with the brand's channel secret
(the SDK's ``SignatureValidator``, constant-time); a missing or wrong signature gets 400 and only a security
log line. Events are stored under their unique ``webhookEventId`` and processed by a
Celery task after commit, so the answer stays fast and redeliveries change nothing.
"""

import json
import logging

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
    try:
        raw_events = json.loads(body).get("events") or []
    except (ValueError, AttributeError):
        return HttpResponseBadRequest()
    line_events_store(brand=brand, raw_events=raw_events)
    return HttpResponse("OK")
