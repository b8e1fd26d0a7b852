"""Coupons given by campaigns: once per key, stock shared with points redemptions."""

import pytest

from loyalty.errors import RewardOutOfStock
from loyalty.models import Coupon, Reward
from loyalty.services.coupons import coupon_issue
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_same_key_gives_one_coupon_and_takes_stock_once(member):
    reward = factories.RewardFactory(brand=member.brand, stock=2)
    first = coupon_issue(member=member, reward=reward, key="mission:1:1:1")
    again = coupon_issue(member=member, reward=reward, key="mission:1:1:1")
    assert (first.created, again.created, again.coupon.pk) == (True, False, first.coupon.pk)
    assert Reward.objects.get(pk=reward.pk).stock == 1
    assert first.coupon.expires_at is not None and first.coupon.status == Coupon.Status.ISSUED


def test_no_stock_left_writes_nothing(member):
    reward = factories.RewardFactory(brand=member.brand, stock=0)
    with pytest.raises(RewardOutOfStock):
        coupon_issue(member=member, reward=reward, key="draw:1:prize:1")
    assert not Coupon.objects.exists()


def test_a_reward_of_another_brand_is_refused(member, other_brand):
    with pytest.raises(ValueError):
        coupon_issue(member=member, reward=factories.RewardFactory(brand=other_brand), key="x")
