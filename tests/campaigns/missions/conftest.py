"""Fixtures for the missions tests: a running mission builder and a purchase helper."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.missions.models import Mission, Objective
from campaigns.missions.services import mission_publish
from loyalty.services.earn_engine import LineInput
from loyalty.services.earning import purchase_record
from tests.liff.conftest import _sms_locmem, active_member, consents, portal_brand  # noqa: F401 - portal fixtures


def make_mission(brand, objectives, *, points=50, publish=True, starts_at=None, ends_at=None, **fields) -> Mission:
    """A mission of ``brand`` running from an hour ago for a week; ``objectives`` are (kind, target, extra)."""
    now = timezone.now()
    mission = Mission.objects.create(
        brand=brand, name=fields.pop("name", "ภารกิจทดสอบ"), name_en=fields.pop("name_en", "Test mission"),
        starts_at=starts_at or now - timedelta(hours=1), ends_at=ends_at or now + timedelta(days=7),
        reward_currency=brand.currencies.get(is_default=True) if points else None, reward_points=points, **fields)
    for position, item in enumerate(objectives):
        kind, target, *extra = item
        Objective.objects.create(mission=mission, kind=kind, target=Decimal(str(target)), position=position,
                                 **(extra[0] if extra else {}))
    if publish:
        mission = mission_publish(mission=mission)
    return mission


_orders = iter(range(1, 10_000_000))


def buy(member, total, *, lines=None, branch=None, at=None, order_id=None):
    """Record a purchase through the earning service (which raises ``purchase_recorded``)."""
    total = Decimal(str(total))
    lines = lines if lines is not None else [LineInput(amount=total, sku="LATTE", category="coffee")]
    return purchase_record(brand=member.brand, member=member, channel="pos",
                           order_id=order_id or f"M-{next(_orders)}", total=total, lines=lines,
                           purchased_at=at or timezone.now(), branch=branch).purchase


@pytest.fixture
def spend_mission(brand):
    return make_mission(brand, [(Objective.Kind.SPEND, 500)], points=50)
