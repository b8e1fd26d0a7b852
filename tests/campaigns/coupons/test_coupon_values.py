"""Coupon values and conditions: enforced when used, refused for points when campaign-only."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.coupons.terms import coupon_terms
from loyalty.errors import (
    CouponAlreadyUsed,
    CouponBelowMinimumSpend,
    CouponNotValidAtBranch,
    RewardNotRedeemable,
)
from loyalty.models import Coupon, LedgerEntry, PointAccount, Redemption, Reward
from loyalty.services.coupons import coupon_issue
from loyalty.services.redemption import coupon_use, reward_redeem
from loyalty.services.verification import ledger_mismatches
from tests import factories

from .conftest import coupon_template


def issued(member, reward, key="test:1") -> Coupon:
    return coupon_issue(member=member, reward=reward, key=key).coupon


# --- minimum spend and branches at use ------------------------------------------------------


@pytest.mark.django_db
def test_a_bill_below_the_minimum_spend_is_refused_and_nothing_is_written(member):
    reward = coupon_template(member.brand, min_spend_thb=Decimal("300"))
    coupon = issued(member, reward)
    with pytest.raises(CouponBelowMinimumSpend) as refused:
        coupon_use(brand=member.brand, code=coupon.code, bill_total=Decimal("299.99"))
    assert refused.value.code == "coupon_below_minimum_spend"
    assert str(refused.value.message) == "This coupon needs a bill of at least 300.00 THB."
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.ISSUED
    used = coupon_use(brand=member.brand, code=coupon.code, bill_total=Decimal("300.00"))
    assert used.status == Coupon.Status.USED


@pytest.mark.django_db
def test_without_a_bill_total_the_minimum_is_not_checked(member):
    coupon = issued(member, coupon_template(member.brand, min_spend_thb=Decimal("300")))
    assert coupon_use(brand=member.brand, code=coupon.code).status == Coupon.Status.USED


@pytest.mark.django_db
def test_a_branch_limited_coupon_is_refused_elsewhere_and_without_a_branch(member):
    siam = factories.BranchFactory(brand=member.brand, code="SIAM", name="Siam")
    main = member.brand.branches.get(code="MAIN")
    reward = coupon_template(member.brand)
    reward.branches.set([siam])
    coupon = issued(member, reward)
    for branch in (main, None):
        with pytest.raises(CouponNotValidAtBranch) as refused:
            coupon_use(brand=member.brand, code=coupon.code, branch=branch)
        assert refused.value.code == "coupon_wrong_branch"
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.ISSUED
    used = coupon_use(brand=member.brand, code=coupon.code, branch=siam, bill_total=Decimal("80"))
    assert (used.status, used.used_branch_id) == (Coupon.Status.USED, siam.pk)


@pytest.mark.django_db
def test_a_used_coupon_reports_already_used_before_its_conditions(member):
    siam = factories.BranchFactory(brand=member.brand, code="SIAM")
    reward = coupon_template(member.brand)
    reward.branches.set([siam])
    coupon = issued(member, reward)
    coupon_use(brand=member.brand, code=coupon.code, branch=siam)
    with pytest.raises(CouponAlreadyUsed):
        coupon_use(brand=member.brand, code=coupon.code, branch=member.brand.branches.get(code="MAIN"))


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(("bill", "expected"), [
    ("100.00", "15.00"),     # 15% of 100
    ("333.33", "50.00"),     # 49.9995 rounds half up to 50.00, the cap
    ("333.30", "50.00"),     # 49.995 → 50.00 (half up), at the cap
    ("333.20", "49.98"),     # 49.98
    ("1000.00", "50.00"),    # 150 capped at 50
])
def test_percent_off_is_rounded_to_the_satang_and_capped(bill, expected):
    reward = Reward(coupon_kind=Reward.CouponKind.PERCENT_OFF, coupon_value=Decimal("15"),
                    percent_cap_thb=Decimal("50.00"))
    assert reward.coupon_discount(Decimal(bill)) == Decimal(expected)


def test_amount_off_never_exceeds_the_bill_and_free_items_take_nothing_off():
    amount = Reward(coupon_kind=Reward.CouponKind.AMOUNT_OFF, coupon_value=Decimal("50"))
    assert (amount.coupon_discount(Decimal("500")), amount.coupon_discount(Decimal("30"))) == (
        Decimal("50.00"), Decimal("30.00"))
    uncapped = Reward(coupon_kind=Reward.CouponKind.PERCENT_OFF, coupon_value=Decimal("10"))
    assert uncapped.coupon_discount(Decimal("1234.50")) == Decimal("123.45")
    assert Reward(coupon_kind=Reward.CouponKind.FREE_ITEM).coupon_discount(Decimal("100")) == Decimal("0.00")


@pytest.mark.django_db
def test_coupon_terms_spell_out_value_and_conditions(brand):
    siam = factories.BranchFactory(brand=brand, code="SIAM", name="Siam")
    reward = coupon_template(brand, coupon_kind="percent_off", coupon_value=Decimal("15"),
                             percent_cap_thb=Decimal("100"), min_spend_thb=Decimal("1500"))
    reward.branches.set([siam])
    assert str(coupon_terms(reward, "en")) == "15% off, up to 100 THB · Minimum spend 1,500 THB · Only at: Siam"


@pytest.mark.django_db
def test_the_database_refuses_a_percent_over_100_and_a_free_reward_that_is_redeemable(brand):
    with pytest.raises(IntegrityError), transaction.atomic():
        coupon_template(brand, coupon_kind="percent_off", coupon_value=Decimal("120"))
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.RewardFactory(brand=brand, points_cost=0, redeemable=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.RewardFactory(brand=brand, is_flash=True, stock=5, ends_at=None)
    assert coupon_template(brand, points_cost=0).pk  # campaign-only: no points cost needed


# --- not for points ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_campaign_only_reward_is_refused_for_points_and_nothing_is_written(member):
    reward = coupon_template(member.brand, points_cost=100, stock=5)
    factories.give_points(member, 1000, key="seed")
    with pytest.raises(RewardNotRedeemable) as refused:
        reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="r-1")
    assert refused.value.code == "reward_not_redeemable"
    assert PointAccount.objects.get(member=member).balance == 1000
    assert (Redemption.objects.count(), Coupon.objects.count(), Reward.objects.get(pk=reward.pk).stock) == (0, 0, 5)


# --- flash stock under concurrency ----------------------------------------------------------


def run_in_threads(count, target):
    barrier = threading.Barrier(count)
    results, lock = [], threading.Lock()

    def worker(index):
        barrier.wait()
        try:
            outcome = target(index)
        except Exception as error:  # noqa: BLE001 - the test counts every outcome
            outcome = type(error).__name__
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_a_flash_reward_with_stock_10_and_50_concurrent_redeemers_gives_exactly_10():
    brand = factories.brand_with_program()
    now = timezone.now()
    flash = factories.RewardFactory(brand=brand, name="Flash latte", points_cost=100, stock=10, is_flash=True,
                                    starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=23))
    members = [factories.MemberFactory(brand=brand) for _ in range(50)]
    for member in members:
        factories.give_points(member, 300, key=f"seed:{member.pk}")

    def redeem(index):
        reward_redeem(brand=brand, member=members[index], reward_id=flash.pk, request_id=f"flash-{index}")
        return "ok"

    results = run_in_threads(50, redeem)
    assert results.count("ok") == 10
    assert results.count("RewardOutOfStock") == 40
    assert Reward.objects.get(pk=flash.pk).stock == 0
    assert Coupon.objects.filter(reward=flash).count() == 10
    assert LedgerEntry.objects.filter(kind="redeem").count() == 10
    assert sorted(PointAccount.objects.values_list("balance", flat=True)) == [200] * 10 + [300] * 40
    assert ledger_mismatches() == []
