"""``POST /integrations/orders/<integration id>/``: a web shop's signed order events.

The body is signed with the integration's secret: ``X-Taem-Signature: sha256=<hex
HMAC-SHA256 of the raw body>``, compared in constant time. A missing or wrong signature
answers 401 and leaves only a security log line; repeated failures from one address are
answered 429 for a while without checking. Accepted events:

``{"event": "order.paid" | "order.refunded" | "order.cancelled", "order_id": "...",
"total": "1250.00", "paid_at": "2026-11-26T10:00:00+07:00", "customer": {"phone" |
"email" | "line_user_id": "..."}, "lines": [{"sku", "category", "quantity", "amount"}],
"refund_amount": "200.00" (partial refunds), "refund_id" or "event_id" (optional)}``

Every answer is JSON; every retry of the same event is harmless (see ``services``).
"""

import hashlib
import hmac
import json
import logging
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers

from config.api_errors import VALIDATION_MESSAGE, error_body, flatten_errors, status_for
from config.domain import DomainError
from loyalty.api.serializers import PurchaseLineSerializer, purchase_lines_checked, purchase_time_checked
from loyalty.services.earning import LineInput

from .models import ORDER_ID_MAX_LENGTH, ShopIntegration
from .services import (
    OrderInput,
    OrderOutcome,
    customer_clean,
    order_channel_and_key,
    order_paid,
    order_refunded,
)

security_log = logging.getLogger("taem.security")
MAX_BODY_BYTES = 512 * 1024
FAILURE_WINDOW_SECONDS = 600
PAID, REFUNDED, CANCELLED = "order.paid", "order.refunded", "order.cancelled"


def signature_for(secret: str, body: bytes) -> str:
    """The header value a shop sends: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signature_valid(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(signature_for(secret, body).encode(), header.strip().lower().encode())


def _failures_key(request) -> str:
    return f"orders:webhook:failures:{request.META.get('REMOTE_ADDR', '')}"


def _too_many_failures(request) -> bool:
    limit = getattr(settings, "ORDERS_WEBHOOK_FAILURES_PER_10_MINUTES", 20)
    return (cache.get(_failures_key(request)) or 0) >= limit


def _count_failure(request) -> None:
    key = _failures_key(request)
    cache.add(key, 0, FAILURE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, FAILURE_WINDOW_SECONDS)


def _error(code: str, message, status: int, fields: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, fields), status=status, json_dumps_params={"ensure_ascii": False})


class CustomerSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    line_user_id = serializers.CharField(required=False, allow_blank=True, max_length=64)


class OrderEventSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=[PAID, REFUNDED, CANCELLED])
    event_id = serializers.CharField(required=False, max_length=64)
    order_id = serializers.RegexField(r"^[^\s]+$", max_length=ORDER_ID_MAX_LENGTH)
    total = serializers.DecimalField(required=False, min_value=Decimal("0"), max_digits=12, decimal_places=2)
    paid_at = serializers.DateTimeField(required=False)
    customer = CustomerSerializer(required=False)
    lines = PurchaseLineSerializer(many=True, required=False, default=list)
    refund_amount = serializers.DecimalField(required=False, min_value=Decimal("0.01"), max_digits=12,
                                             decimal_places=2)
    refund_id = serializers.CharField(required=False, max_length=64)

    def validate_paid_at(self, value):
        return purchase_time_checked(value)

    def validate_lines(self, value):
        return purchase_lines_checked(value)

    def validate(self, attrs):
        if attrs["event"] == PAID:
            if attrs.get("total") is None:
                raise serializers.ValidationError({"total": [_("Required for order.paid.")]})
            customer = customer_clean(**attrs.get("customer", {}))
            if customer.is_empty:
                raise serializers.ValidationError({"customer": [
                    _("Give the customer's phone, e-mail or LINE user ID (a valid one).")]})
            attrs["customer_clean"] = customer
        return attrs


def refund_id_for(data: dict) -> str:
    """A stable refund id from the event, so a redelivered refund is recognised.

    The shop's ``refund_id`` (or ``event_id``) when sent; otherwise derived from the event
    and the amount: two different partial refunds of the same amount need a ``refund_id``.
    """
    given = data.get("refund_id") or data.get("event_id")
    if given:
        return f"webhook:{given}"
    if data["event"] == CANCELLED:
        return "webhook:cancelled"
    if data.get("refund_amount") is not None:
        return f"webhook:refund:{data['refund_amount']}"
    return "webhook:refund:all"


def _answer(outcome: OrderOutcome, order_id: str) -> JsonResponse:
    body = {"status": outcome.status, "created": outcome.created, "order_id": order_id}
    if outcome.purchase is not None:
        body["purchase_id"] = outcome.purchase.pk
    if outcome.member is not None:
        body["member_code"] = outcome.member.code
    if outcome.status in ("credited", "refunded"):
        body["points"] = outcome.points
    if outcome.reason:
        body["reason"] = outcome.reason
    if outcome.message:
        body["message"] = outcome.message
    return JsonResponse(body, status=201 if outcome.created else 200, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
def order_webhook(request, integration_id: int):
    if request.method != "POST":
        return _error("method_not_allowed", _("Use POST."), 405)
    ip = request.META.get("REMOTE_ADDR", "")
    if _too_many_failures(request):
        security_log.warning("order webhook: rate limited integration=%s ip=%s", integration_id, ip)
        return _error("rate_limited", _("Too many failed attempts. Try again later."), 429)
    integration = ShopIntegration.objects.select_related("brand").filter(pk=integration_id, is_active=True,
                                                                         brand__is_active=True).first()
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared_length = MAX_BODY_BYTES + 1
    if declared_length > MAX_BODY_BYTES:
        return _error("payload_too_large", _("The body is too large."), 413)
    body = request.body
    if integration is None or not _signature_valid(integration.secret, body,
                                                   request.headers.get("X-Taem-Signature", "")):
        _count_failure(request)
        security_log.warning("order webhook: %s integration=%s ip=%s",
                             "unknown integration" if integration is None else "bad or missing signature",
                             integration_id, ip)
        return _error("invalid_signature", _("The signature is missing or wrong."), 401)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _error("invalid_json", _("The body is not JSON."), 400)
    if not isinstance(payload, dict):
        return _error("invalid_json", _("The body is not a JSON object."), 400)
    data = OrderEventSerializer(data=payload)
    if not data.is_valid():
        return _error("validation_error", VALIDATION_MESSAGE, 400, flatten_errors(data.errors))
    values = data.validated_data
    channel, key = order_channel_and_key(integration=integration, order_id=values["order_id"])
    brand = integration.brand
    try:
        if values["event"] == PAID:
            outcome = order_paid(
                brand=brand, channel=channel, order_key=key, integration=integration,
                allow_email=integration.match_email,
                order=OrderInput(order_id=values["order_id"], total=values["total"],
                                 paid_at=values.get("paid_at") or timezone.now(), customer=values["customer_clean"],
                                 lines=[LineInput(**line) for line in values["lines"]]))
        else:
            amount = values.get("refund_amount") if values["event"] == REFUNDED else None
            outcome = order_refunded(brand=brand, channel=channel, order_key=key, order_id=values["order_id"],
                                     amount=amount, refund_id=refund_id_for(values), integration=integration)
    except DomainError as error:
        return _error(error.code, error.message, status_for(error), error.fields)
    return _answer(outcome, values["order_id"])
