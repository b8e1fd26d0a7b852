"""Hand-built March 2025 data for two brands (expected numbers in the tests)."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty.models import PointCurrency
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.expiry import points_expire_due
from loyalty.services.redemption import reward_redeem
from tests import factories

BKK = ZoneInfo("Asia/Bangkok")


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=BKK)


def buy(member, order_id: str, total: str, when: datetime, branch=None):
    return purchase_record(brand=member.brand, member=member, channel="pos", order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))], purchased_at=when,
                           branch=branch)


@pytest.fixture
def march(db, time_machine):
    """Acme: A (registered 1 Mar) buys 100 + 500 THB, B (20 Feb) 250 THB, C (5 Mar) 50 THB;
    A redeems a 10-point reward; 5 of B's points expire. Other brand: D buys 1,000 THB in March."""
    brand = factories.brand_with_program("acme", "Acme Coffee")
    PointCurrency.objects.filter(brand=brand).update(point_value=Decimal("0.25"))
    other = factories.brand_with_program("other", "Other Tea")
    branch = brand.branches.get()
    a = factories.MemberFactory(brand=brand, registered_at=at(1), status="active")
    b = factories.MemberFactory(brand=brand, registered_at=at(20, month=2), status="active")
    c = factories.MemberFactory(brand=brand, registered_at=at(5), status="active")
    d = factories.MemberFactory(brand=other, registered_at=at(2), status="active")
    reward = factories.RewardFactory(brand=brand, name="Free latte", points_cost=10)

    time_machine.move_to(at(10))
    buy(a, "A-1", "100", at(10), branch)
    buy(b, "B-1", "250", at(10, 23), branch)  # 23:00 Bangkok = 16:00 UTC, still 10 March
    buy(d, "D-1", "1000", at(10))
    factories.give_points(b, 5, key="bonus-b", expires_at=at(25, 0))
    time_machine.move_to(at(15))
    buy(a, "A-2", "500", at(15))
    time_machine.move_to(at(16))
    reward_redeem(brand=brand, member=a, reward_id=reward.pk, request_id="r-1")
    time_machine.move_to(at(20))
    buy(c, "C-1", "50", at(20), branch)
    time_machine.move_to(at(25, 1))
    points_expire_due(brand=brand)
    time_machine.move_to(at(1, 9, month=4))
    return {"brand": brand, "other": other, "members": (a, b, c, d), "reward": reward, "branch": branch}
