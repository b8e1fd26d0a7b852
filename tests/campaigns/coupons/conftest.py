"""Shared setup for coupon promotions: coupon templates (rewards) and rules."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.coupons.models import CouponRule
from loyalty.models import Reward
from loyalty.services.earning import LineInput, purchase_record
from tests import factories
from tests.liff.conftest import active_member, consents, portal_brand  # noqa: F401 - the portal's fixtures


def coupon_template(brand, **fields) -> Reward:
    """A campaign-only coupon: 50 THB off, not redeemable with points."""
    values = {"name": "ส่วนลด 50 บาท", "name_en": "50 THB off", "points_cost": 0, "redeemable": False,
              "coupon_kind": Reward.CouponKind.AMOUNT_OFF, "coupon_value": Decimal("50")}
    values.update(fields)
    return factories.RewardFactory(brand=brand, **values)


def coupon_rule(brand, reward, **fields) -> CouponRule:
    values = {"name": "ซื้อครบ 500 รับคูปอง 50", "name_en": "Spend 500, get 50 off", "trigger": "purchase",
              "status": CouponRule.Status.ACTIVE, "min_spend_thb": Decimal("500")}
    values.update(fields)
    return CouponRule.objects.create(brand=brand, reward=reward, **values)


def buy(member, total, *, order_id, at=None, branch=None, channel="pos"):
    return purchase_record(brand=member.brand, member=member, channel=channel, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(sku="LATTE", amount=Decimal(total))],
                           purchased_at=at or timezone.now() - timedelta(minutes=1), branch=branch)


@pytest.fixture
def template(brand):
    return coupon_template(brand)
