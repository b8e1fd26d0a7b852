"""Regressions found in review, at the service and model level: the ledger's single write
path (append-only accounts, idempotency keys bound to one account and amount, one brand),
refunds (lock order, expired lots, long references, branch scoping) and reward restocking.

The two-thread tests run against PostgreSQL with ``transaction=True``: each thread has its
own connection (closed when it ends), and the tests assert exact outcomes.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from config.append_only import AppendOnlyError
from loyalty.errors import IdempotencyConflict, PurchaseNotFound, RefundExceedsTotal, RewardOutOfStock
from loyalty.models import (
    EarnRule,
    LedgerEntry,
    PointAccount,
    PointCurrency,
    Purchase,
    PurchaseRefund,
    Reward,
)
from loyalty.services import earning
from loyalty.services import redemption as redemption_service
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, points_adjust, points_post
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from members.models import Branch
from tests import factories

THREAD_TIMEOUT = 60  # seconds; a thread still alive after this is a hang, reported as a failure


def record(member, order_id="O-1", total="1000.00", branch=None, purchased_at=None):
    """A POS purchase; with the brand's 25 THB = 1 point rule, 1000 THB earns 40 points."""
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))],
                           purchased_at=purchased_at or timezone.now(), branch=branch).purchase


def balance(member, code="points") -> int:
    return PointAccount.objects.get(member=member, currency__code=code).balance


def default_account(member) -> PointAccount:
    return account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))


def add_stars(brand) -> PointCurrency:
    """A second currency earning 1 star per 100 THB: purchases then lock two accounts."""
    stars = PointCurrency.objects.create(brand=brand, code="stars", name="Stars")
    EarnRule.objects.create(brand=brand, currency=stars, spend_amount=Decimal("100"), points=1)
    return stars


def run_concurrently(*calls):
    """Run each call in its own thread, started together; returns ``(results, errors)`` by index.

    Every thread closes its database connection; a thread that does not finish within
    ``THREAD_TIMEOUT`` fails the test instead of hanging the suite.
    """
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            errors[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index, call), daemon=True) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results, errors


# --- PointAccount rows change only through the ledger service --------------------------------------------


def test_saving_an_existing_point_account_is_refused_and_the_balance_is_kept(member):
    factories.give_points(member, 100, key="seed")  # creating the account is still allowed
    account = PointAccount.objects.get()
    account.balance = 999
    with pytest.raises(AppendOnlyError):
        account.save()
    with pytest.raises(AppendOnlyError):
        account.save(update_fields=["balance"])
    assert PointAccount.objects.get().balance == 100
    assert ledger_mismatches() == []


def test_a_stale_account_row_cannot_overwrite_an_adjustment_made_after_it_was_read(member):
    factories.give_points(member, 100, key="seed")
    stale = PointAccount.objects.get()  # e.g. the admin's change form, read before the adjustment
    points_adjust(account=default_account(member), amount=40, staff_user=None, reason="Goodwill", request_key="r1")
    with pytest.raises(AppendOnlyError):
        stale.save()
    assert balance(member) == 140
    assert ledger_mismatches() == []


# --- idempotency keys belong to one account, one amount, one brand ---------------------------------------


def test_a_known_key_used_for_another_account_is_an_idempotency_conflict(member):
    factories.give_points(member, 10, key="shared-key")
    other = factories.MemberFactory(brand=member.brand)
    other_account = default_account(other)
    with pytest.raises(IdempotencyConflict) as raised:
        points_post(account=other_account, amount=10, kind=Kind.ADJUST, idempotency_key="shared-key",
                    source=Source(channel=Channel.STAFF, reason="test"))
    assert "idempotency_key" in raised.value.fields
    assert PointAccount.objects.get(pk=other_account.pk).balance == 0
    assert LedgerEntry.objects.count() == 1
    assert ledger_mismatches() == []


def test_a_known_key_used_with_another_amount_is_an_idempotency_conflict(member):
    first = factories.give_points(member, 10, key="k1")
    assert factories.give_points(member, 10, key="k1").pk == first.pk  # a true replay still returns it
    with pytest.raises(IdempotencyConflict):
        factories.give_points(member, 25, key="k1")
    account = default_account(member)
    with pytest.raises(IdempotencyConflict):  # a debit under an earn's key
        points_post(account=account, amount=-10, kind=Kind.REDEEM, idempotency_key="k1",
                    source=Source(channel=Channel.REWARD))
    assert balance(member) == 10
    assert LedgerEntry.objects.count() == 1


def test_an_account_in_a_currency_of_another_brand_is_refused(member, other_brand):
    with pytest.raises(ValueError, match="another brand"):
        account_get_or_create(member=member, currency=other_brand.currencies.get())
    assert not PointAccount.objects.exists()


def test_an_earn_rule_in_another_brands_currency_credits_no_account_of_either_brand(member, other_brand):
    """Both currencies are coded "points": before the fix, the second rule's earn found the
    first rule's entry by its key and the purchase reported points it never wrote."""
    theirs = factories.MemberFactory(brand=other_brand)
    factories.give_points(theirs, 100, key="theirs")
    EarnRule.objects.create(brand=member.brand, currency=other_brand.currencies.get(), spend_amount=Decimal("10"),
                            points=1)
    with pytest.raises(ValueError, match="another brand"):
        record(member)
    assert not Purchase.objects.exists()
    assert list(PointAccount.objects.values_list("member_id", "currency__brand_id", "balance")) == [
        (theirs.pk, other_brand.pk, 100)]
    assert LedgerEntry.objects.count() == 1
    assert ledger_mismatches() == []


# --- refunds: expired points, references, branches -------------------------------------------------------


def test_refund_after_the_purchase_points_expired_takes_nothing_from_other_points(member, time_machine):
    factories.give_points(member, 100, key="never-expires", expires_at=None)
    purchase = record(member)  # 40 points, valid 365 days
    time_machine.move_to(timezone.now() + timedelta(days=400))
    refund = purchase_refund(brand=member.brand, purchase_id=purchase.pk).refund
    assert refund.details == {"points": {"target": 40, "expired": 40, "reversed": 0, "shortfall": 0}}
    assert (refund.points_reversed, refund.points_shortfall) == (0, 0)
    assert balance(member) == 100
    assert not LedgerEntry.objects.filter(kind=Kind.REVERSE).exists()
    assert LedgerEntry.objects.get(kind=Kind.EXPIRE).amount == -40
    assert ledger_mismatches() == []


def test_partial_refunds_around_the_expiry_count_the_expired_points_once(member, time_machine):
    factories.give_points(member, 100, key="never-expires", expires_at=None)
    purchase = record(member)  # 40 points
    first = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("500.00"),
                            refund_id="R-1").refund
    assert first.details["points"] == {"target": 20, "expired": 0, "reversed": 20, "shortfall": 0}
    time_machine.move_to(timezone.now() + timedelta(days=400))  # the other 20 of the purchase expire
    second = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("250.00"),
                             refund_id="R-2").refund
    assert second.details["points"] == {"target": 10, "expired": 10, "reversed": 0, "shortfall": 0}
    rest = purchase_refund(brand=member.brand, purchase_id=purchase.pk, refund_id="R-3").refund
    assert rest.details["points"] == {"target": 10, "expired": 10, "reversed": 0, "shortfall": 0}
    assert balance(member) == 100
    assert ledger_mismatches() == []


def test_refund_after_some_points_were_spent_and_the_rest_expired_excludes_only_the_expired(member, time_machine):
    factories.give_points(member, 100, key="never-expires", expires_at=None)
    purchase = record(member)  # 40 points, the earliest to expire: spending takes them first
    account = default_account(member)
    points_post(account=account, amount=-30, kind=Kind.REDEEM, idempotency_key="spent",
                source=Source(channel=Channel.REWARD))
    time_machine.move_to(timezone.now() + timedelta(days=400))  # the 10 left of the purchase expire
    refund = purchase_refund(brand=member.brand, purchase_id=purchase.pk).refund
    assert refund.details == {"points": {"target": 40, "expired": 10, "reversed": 30, "shortfall": 0}}
    assert balance(member) == 70  # 140 earned - 30 spent - 10 expired - 30 reversed (the spent ones)
    assert ledger_mismatches() == []


def test_refund_with_long_order_and_refund_ids_truncates_the_reference(member):
    order_id, refund_id = "O" * 100, "R" * 100
    purchase = record(member, order_id=order_id)
    purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("500.00"), refund_id=refund_id)
    reversal = LedgerEntry.objects.get(kind=Kind.REVERSE)
    assert reversal.reference == f"{order_id} / {refund_id}"[:200]
    assert len(reversal.reference) == 200
    assert balance(member) == 20
    assert ledger_mismatches() == []


def test_refund_scoped_to_a_branch_does_not_find_another_branchs_purchase(member):
    main = member.brand.branches.get(code="MAIN")
    other = Branch.objects.create(brand=member.brand, code="OTHER", name="Other")
    purchase = record(member, branch=main)
    with pytest.raises(PurchaseNotFound):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk, branch=other)
    assert not PurchaseRefund.objects.exists()
    assert balance(member) == 40
    refund = purchase_refund(brand=member.brand, purchase_id=purchase.pk, branch=main).refund
    assert refund.points_reversed == 40


# --- reward stock changes by conditional UPDATE ------------------------------------------------------------


def test_restock_adds_to_the_current_stock_not_to_the_stock_read_earlier(member):
    reward = factories.RewardFactory(brand=member.brand, points_cost=10, stock=10)
    stale = Reward.objects.get(pk=reward.pk)
    factories.give_points(member, 30, key="seed")
    for index in range(3):
        reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id=f"r-{index}")
    restocked = redemption_service.reward_restock(reward=stale, quantity=5)
    assert restocked.stock == 12
    assert Reward.objects.get(pk=reward.pk).stock == 12


def test_restock_removes_stock_but_never_more_than_is_left(member):
    reward = factories.RewardFactory(brand=member.brand, stock=3)
    assert redemption_service.reward_restock(reward=reward, quantity=-2).stock == 1
    with pytest.raises(RewardOutOfStock):
        redemption_service.reward_restock(reward=Reward.objects.get(pk=reward.pk), quantity=-2)
    assert Reward.objects.get(pk=reward.pk).stock == 1
    assert redemption_service.reward_restock(reward=reward, quantity=-1).stock == 0


def test_restock_of_an_unlimited_reward_leaves_it_unlimited(member):
    reward = factories.RewardFactory(brand=member.brand, stock=None)
    redemption_service.reward_restock(reward=reward, quantity=5)
    assert Reward.objects.get(pk=reward.pk).stock is None


# --- two threads -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_purchase_earning_two_currencies_and_a_refund_racing_it_do_not_deadlock(monkeypatch):
    """Before the fix, ``purchase_record`` locked the member's accounts in rule order and
    ``purchase_refund`` in the order of the earn entries (newest first): for a two-currency
    brand the opposite order, so each held one account and waited for the other.

    Each thread, after posting its first entry, waits (briefly) for the other to post
    too; with the old lock order both then hold one account each and PostgreSQL reports a
    deadlock. With the accounts locked up front in primary-key order, the second thread
    waits for the first to commit and both succeed.
    """
    brand = factories.brand_with_program()
    add_stars(brand)
    member = factories.MemberFactory(brand=brand)
    first_purchase = record(member, order_id="P-1")  # 40 points, 10 stars
    assert (balance(member), balance(member, "stars")) == (40, 10)

    original_post = earning.points_post
    posted = {name: threading.Event() for name in ("record", "refund")}
    role = threading.local()

    def points_post_then_wait_for_the_other(**kwargs):
        entry = original_post(**kwargs)
        mine = posted[role.name]
        if not mine.is_set():
            mine.set()
            other = posted["refund" if role.name == "record" else "record"]
            other.wait(timeout=3)  # with the fix the other thread is blocked on a lock: go on
        return entry

    monkeypatch.setattr(earning, "points_post", points_post_then_wait_for_the_other)

    def record_second_purchase():
        role.name = "record"
        return record(member, order_id="P-2")

    def refund_first_purchase():
        role.name = "refund"
        return purchase_refund(brand=brand, purchase_id=first_purchase.pk).refund

    (second_purchase, refund), errors = run_concurrently(record_second_purchase, refund_first_purchase)
    assert errors == [None, None]
    assert second_purchase.points_earned == 40
    assert refund.details == {"points": {"target": 40, "expired": 0, "reversed": 40, "shortfall": 0},
                              "stars": {"target": 10, "expired": 0, "reversed": 10, "shortfall": 0}}
    assert (balance(member), balance(member, "stars")) == (40, 10)
    assert LedgerEntry.objects.filter(kind=Kind.EARN).count() == 4
    assert LedgerEntry.objects.filter(kind=Kind.REVERSE).count() == 2
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refunds_with_different_ids_never_refund_more_than_the_total():
    brand = factories.brand_with_program()
    add_stars(brand)
    member = factories.MemberFactory(brand=brand)
    purchase = record(member)  # 1000 THB: 40 points, 10 stars

    def refund(refund_id):
        return lambda: purchase_refund(brand=brand, purchase_id=purchase.pk, amount=Decimal("600.00"),
                                       refund_id=refund_id).refund

    results, errors = run_concurrently(refund("R-a"), refund("R-b"))
    refused = [error for error in errors if error is not None]
    assert len(refused) == 1 and isinstance(refused[0], RefundExceedsTotal)
    done = [result for result in results if result is not None]
    assert len(done) == 1
    purchase.refresh_from_db()
    assert purchase.refunded_total == Decimal("600.00") <= purchase.total
    assert purchase.status == Purchase.Status.PARTIALLY_REFUNDED
    assert list(PurchaseRefund.objects.values_list("refund_id", "amount")) == [(done[0].refund_id, Decimal("600.00"))]
    assert done[0].details == {"points": {"target": 24, "expired": 0, "reversed": 24, "shortfall": 0},
                               "stars": {"target": 6, "expired": 0, "reversed": 6, "shortfall": 0}}
    assert (balance(member), balance(member, "stars")) == (40 - 24, 10 - 6)
    assert LedgerEntry.objects.filter(kind=Kind.REVERSE).count() == 2
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refunds_after_the_points_expired_leave_other_points_alone(time_machine):
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 100, key="never-expires", expires_at=None)
    purchase = record(member)  # 40 points, valid 365 days
    time_machine.move_to(timezone.now() + timedelta(days=400))

    def refund(refund_id):
        return lambda: purchase_refund(brand=brand, purchase_id=purchase.pk, amount=Decimal("500.00"),
                                       refund_id=refund_id).refund

    results, errors = run_concurrently(refund("R-a"), refund("R-b"))
    assert errors == [None, None]
    assert sorted(result.details["points"]["expired"] for result in results) == [20, 20]
    assert all(result.points_reversed == 0 for result in results)
    purchase.refresh_from_db()
    assert (purchase.refunded_total, purchase.status) == (purchase.total, Purchase.Status.REFUNDED)
    assert balance(member) == 100
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_staff_adjustments_each_apply_exactly_once():
    """Two staff members adjust the same account at the same moment, and each form is
    also submitted twice (a double click): two entries, both amounts, nothing lost. An
    account row read before them (an admin change form left open) can no longer be saved
    over their result."""
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 100, key="seed")
    alice = factories.staff_user(brands=[brand], username="alice")
    bob = factories.staff_user(brands=[brand], username="bob")
    account = PointAccount.objects.get()
    stale = PointAccount.objects.get(pk=account.pk)

    def adjust(staff, amount, request_key):
        return lambda: points_adjust(account=PointAccount.objects.get(pk=account.pk), amount=amount,
                                     staff_user=staff, reason=f"Correction by {staff.username}",
                                     request_key=request_key)

    results, errors = run_concurrently(adjust(alice, 50, "form-a"), adjust(bob, -30, "form-b"),
                                       adjust(alice, 50, "form-a"), adjust(bob, -30, "form-b"))
    assert errors == [None] * 4
    assert results[0].pk == results[2].pk and results[1].pk == results[3].pk
    entries = LedgerEntry.objects.filter(kind=Kind.ADJUST, staff_user__isnull=False)
    assert sorted(entries.values_list("staff_user__username", "amount")) == [("alice", 50), ("bob", -30)]
    assert balance(member) == 120
    with pytest.raises(AppendOnlyError):
        stale.save()
    assert balance(member) == 120
    assert ledger_mismatches() == []
