"""Redeeming rewards under concurrency: no overdraft, no overselling, coupons used once."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from loyalty.errors import CouponAlreadyUsed, CouponExpired, InsufficientPoints, RewardOutOfStock
from loyalty.models import Coupon, LedgerEntry, PointAccount, Redemption, Reward
from loyalty.models.rewards import COUPON_CODE_LENGTH
from loyalty.services.redemption import coupon_use, reward_redeem
from loyalty.services.verification import ledger_mismatches
from tests import factories


def run_in_threads(count, target):
    barrier = threading.Barrier(count)
    results = []
    lock = threading.Lock()

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
def test_fifty_concurrent_redemptions_with_points_for_ten_succeed_exactly_ten_times():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=30)
    factories.give_points(member, 1000, key="seed")

    def redeem(index):
        reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id=f"r-{index}")
        return "ok"

    results = run_in_threads(50, redeem)
    assert results.count("ok") == 10
    assert results.count("InsufficientPoints") == 40
    assert PointAccount.objects.get(member=member).balance == 0
    reward.refresh_from_db()
    assert reward.stock == 20
    assert Redemption.objects.count() == 10
    assert Coupon.objects.count() == 10
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).count() == 10
    assert ledger_mismatches() == []
    call_command("verify_ledger")  # exits non-zero (CommandError) on any mismatch


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_oversell_stock():
    brand = factories.brand_with_program()
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=5)
    members = [factories.MemberFactory(brand=brand) for _ in range(12)]
    for index, member in enumerate(members):
        factories.give_points(member, 10, key=f"seed-{index}")

    def redeem(index):
        reward_redeem(brand=brand, member=members[index], reward_id=reward.pk, request_id=f"r-{index}")
        return "ok"

    results = run_in_threads(12, redeem)
    assert results.count("ok") == 5
    assert results.count("RewardOutOfStock") == 7
    reward.refresh_from_db()
    assert reward.stock == 0
    assert sum(PointAccount.objects.values_list("balance", flat=True)) == 70
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_coupon_used_concurrently_is_used_once():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="r").redemption.coupon

    results = run_in_threads(10, lambda i: coupon_use(brand=brand, code=coupon.code) and "ok")
    assert results.count("ok") == 1
    assert results.count("CouponAlreadyUsed") == 9


def test_redeem_debits_points_decrements_stock_and_issues_an_unguessable_coupon(member):
    reward = factories.RewardFactory(brand=member.brand, points_cost=120, stock=3, coupon_valid_days=7)
    factories.give_points(member, 200, key="seed")
    result = reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="req-1")
    assert result.created
    coupon = result.redemption.coupon
    assert len(coupon.code) == COUPON_CODE_LENGTH and coupon.status == Coupon.Status.ISSUED
    assert coupon.expires_at > timezone.now() + timedelta(days=7)
    assert PointAccount.objects.get().balance == 80
    assert Reward.objects.get().stock == 2
    again = reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="req-1")
    assert not again.created and again.redemption.pk == result.redemption.pk
    assert PointAccount.objects.get().balance == 80


def test_failed_redemption_writes_nothing(member):
    reward = factories.RewardFactory(brand=member.brand, points_cost=120, stock=3)
    factories.give_points(member, 100, key="seed")
    with pytest.raises(InsufficientPoints):
        reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="req-1")
    assert Reward.objects.get().stock == 3
    assert not Redemption.objects.exists() and not Coupon.objects.exists()
    assert PointAccount.objects.get().balance == 100


def test_out_of_stock_reward_is_refused(member):
    reward = factories.RewardFactory(brand=member.brand, points_cost=10, stock=0)
    factories.give_points(member, 100, key="seed")
    with pytest.raises(RewardOutOfStock):
        reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="req-1")
    assert PointAccount.objects.get().balance == 100


def test_expired_coupon_cannot_be_used(member, time_machine):
    reward = factories.RewardFactory(brand=member.brand, points_cost=10, coupon_valid_days=1)
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="r").redemption.coupon
    time_machine.move_to(timezone.now() + timedelta(days=3))
    with pytest.raises(CouponExpired):
        coupon_use(brand=member.brand, code=coupon.display_code.lower())
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED and coupon.used_at is None


def test_coupon_code_is_accepted_with_dashes_and_lower_case(member):
    reward = factories.RewardFactory(brand=member.brand, points_cost=10)
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id="r").redemption.coupon
    used = coupon_use(brand=member.brand, code=coupon.display_code.lower(), reference="BILL-9")
    assert used.status == Coupon.Status.USED and used.used_reference == "BILL-9"
    with pytest.raises(CouponAlreadyUsed):
        coupon_use(brand=member.brand, code=coupon.code)
