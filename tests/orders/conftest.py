import json
from pathlib import Path

import pytest
from django.core.cache import cache

from loyalty.orders.models import ShopIntegration
from loyalty.orders.services import shop_integration_create
from loyalty.orders.webhook import signature_for
from members.models import Member
from tests import factories

SAMPLES = Path(__file__).resolve().parents[2] / "loyalty/orders/samples"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def webshop(brand):
    return shop_integration_create(brand=brand, name="Acme web shop")


def post_event(client, integration: ShopIntegration, payload: dict, *, secret: str | None = None,
               signature: str | None = None, raw: bytes | None = None, ip: str = "203.0.113.7"):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if signature is None:
        signature = signature_for(secret if secret is not None else integration.secret, body)
    if signature:
        headers["HTTP_X_TAEM_SIGNATURE"] = signature
    return client.post(f"/integrations/orders/{integration.pk}/", data=body, content_type="application/json",
                       REMOTE_ADDR=ip, **headers)


def paid(order_id="W-1001", total="1000.00", phone="0812223344", **extra):
    payload = {"event": "order.paid", "order_id": order_id, "total": total, "paid_at": "2026-11-20T10:00:00+07:00",
               "customer": {"phone": phone} if phone else {}, "lines": [{"sku": "BEANS", "amount": total}]}
    payload.update(extra)
    return payload


@pytest.fixture
def shop_member(brand):
    return factories.MemberFactory(brand=brand, phone="+66812223344", email="nok@example.com")


DEMO_PHONES = ("+66812345671", "+66812345672", "+66812345673")


@pytest.fixture
def sample_members(brand):
    """Members with the phones the sample files use (the demo brand's members)."""
    members = [factories.MemberFactory(brand=brand, phone=phone) for phone in DEMO_PHONES]
    pending = Member.objects.create(brand=brand, phone="+66899990000", status=Member.Status.PENDING)
    return members, pending
