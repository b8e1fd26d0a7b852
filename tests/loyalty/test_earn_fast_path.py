"""The POS earn path after the load benchmark's optimisations (bench/pos_load.py, BENCHMARKS.md).

``purchase_record`` locks the member's accounts with one ``SELECT ... FOR UPDATE``, computes the
points from the brand's rules read once per process, inserts the purchase with its lines and
points in one statement (a replay is decided by the unique order constraint) and posts with
``points_post(account_locked=True)``, which neither locks again nor checks the key twice, and
writes the entry, its lot and the balance in one statement. These tests pin that contract and its
statement count, so a change that brings a query back shows.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.errors import IdempotencyConflict, InsufficientPoints
from loyalty.models import LedgerEntry, PointAccount, PointCurrency, PointLot, Purchase, PurchaseLine
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import (
    Channel,
    Kind,
    Source,
    account_get_or_create,
    accounts_lock,
    member_accounts_lock,
    points_post,
)
from loyalty.services.verification import ledger_mismatches
from members.errors import MemberInactive
from members.models import Member
from tests import factories

SPEND = Source(channel=Channel.REWARD)


def locked_account(member) -> PointAccount:
    account = account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))
    return accounts_lock([account.pk])[account.pk]


def record(member, order_id="POS-1", total="250.00"):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total), sku="LATTE")],
                           purchased_at=timezone.now() - timedelta(minutes=5))


def test_a_locked_post_with_a_known_key_returns_the_first_entry_and_writes_once(member):
    with transaction.atomic():
        account = locked_account(member)
        first = points_post(account=account, amount=40, kind=Kind.ADJUST, idempotency_key="k", account_locked=True,
                            source=Source(channel=Channel.STAFF, reason="test"))
        again = points_post(account=account, amount=40, kind=Kind.ADJUST, idempotency_key="k", account_locked=True,
                            source=Source(channel=Channel.STAFF, reason="test"))
        assert again.pk == first.pk
        assert account.balance == 40  # the caller's locked instance stays current
    assert LedgerEntry.objects.count() == 1
    assert PointAccount.objects.get().balance == 40
    assert PointLot.objects.get().remaining == 40


def test_a_locked_post_reusing_a_key_for_another_amount_is_a_conflict(member):
    with transaction.atomic():
        account = locked_account(member)
        points_post(account=account, amount=40, kind=Kind.ADJUST, idempotency_key="k", account_locked=True,
                    source=Source(channel=Channel.STAFF, reason="test"))
        with pytest.raises(IdempotencyConflict):
            points_post(account=account, amount=41, kind=Kind.ADJUST, idempotency_key="k", account_locked=True,
                        source=Source(channel=Channel.STAFF, reason="test"))
    assert PointAccount.objects.get().balance == 40


def test_a_failed_locked_debit_changes_nothing_and_leaves_the_callers_transaction_usable(member):
    factories.give_points(member, 30, key="credit")
    with transaction.atomic():
        account = locked_account(member)
        with pytest.raises(InsufficientPoints):
            points_post(account=account, amount=-31, kind=Kind.REDEEM, idempotency_key="too-much",
                        source=SPEND, account_locked=True)
        assert account.balance == 30
        # The savepoint rolled back alone: the same transaction can still spend what there is.
        points_post(account=account, amount=-30, kind=Kind.REDEEM, idempotency_key="all", source=SPEND,
                    account_locked=True)
    account.refresh_from_db()
    assert account.balance == 0
    assert list(LedgerEntry.objects.order_by("id").values_list("amount", flat=True)) == [30, -30]
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)  # really outside any transaction (a plain test runs inside one)
def test_a_locked_post_outside_a_transaction_is_refused(member):
    account = account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))
    with pytest.raises(RuntimeError):
        points_post(account=account, amount=10, kind=Kind.ADJUST, idempotency_key="k", account_locked=True,
                    source=Source(channel=Channel.STAFF, reason="test"))
    assert not LedgerEntry.objects.exists()


def test_a_new_key_post_writes_without_a_lookup_and_a_duplicate_fails_the_whole_transaction(member):
    with transaction.atomic():
        account = locked_account(member)
        points_post(account=account, amount=40, kind=Kind.ADJUST, idempotency_key="fresh", account_locked=True,
                    new_key=True, source=Source(channel=Channel.STAFF, reason="test"))
    assert PointAccount.objects.get().balance == 40
    with pytest.raises(IntegrityError), transaction.atomic():
        account = locked_account(member)
        points_post(account=account, amount=5, kind=Kind.ADJUST, idempotency_key="other", account_locked=True,
                    new_key=True, source=Source(channel=Channel.STAFF, reason="test"))
        points_post(account=account, amount=40, kind=Kind.ADJUST, idempotency_key="fresh", account_locked=True,
                    new_key=True, source=Source(channel=Channel.STAFF, reason="test"))
    assert PointAccount.objects.get().balance == 40  # the earlier post of that transaction went too
    assert list(LedgerEntry.objects.values_list("idempotency_key", flat=True)) == ["fresh"]
    assert ledger_mismatches() == []


def test_a_new_key_post_is_for_credits_on_a_locked_account_only(member):
    account = account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))
    with pytest.raises(ValueError), transaction.atomic():
        points_post(account=account, amount=10, kind=Kind.ADJUST, idempotency_key="k", new_key=True,
                    source=Source(channel=Channel.STAFF, reason="test"))
    with pytest.raises(ValueError), transaction.atomic():
        points_post(account=locked_account(member), amount=-10, kind=Kind.REDEEM, idempotency_key="k",
                    account_locked=True, new_key=True, source=SPEND)
    assert not LedgerEntry.objects.exists()


def test_member_accounts_lock_opens_the_missing_account_and_returns_the_same_one_after(member):
    currencies = list(PointCurrency.objects.filter(brand=member.brand))
    with transaction.atomic():
        first = member_accounts_lock(member=member, currencies=currencies)
    with transaction.atomic():
        second = member_accounts_lock(member=member, currencies=currencies)
    assert set(first) == set(second) == {currency.pk for currency in currencies}
    assert [account.pk for account in first.values()] == [account.pk for account in second.values()]
    assert PointAccount.objects.filter(member=member).count() == len(currencies)


@pytest.mark.django_db(transaction=True)  # as the POS API: no outer transaction, the snapshot is kept
def test_a_new_purchase_is_recorded_in_a_pinned_number_of_statements(member):
    record(member, order_id="warm")  # opens the account
    with CaptureQueriesContext(connection) as statements:
        result = record(member, order_id="POS-2")
    assert result.created and result.points_earned == 10
    # The purchase's transaction (the events' subscribers run after COMMIT): BEGIN, SELECT ... FOR UPDATE
    # accounts, INSERT purchase with its lines (one statement), INSERT entry + lot and UPDATE balance (one
    # statement), COMMIT. Rules, policy, promotions and the tier program's state come from the process's
    # earn configuration, read by the first purchase (loyalty.services.earn_config); the brand has no tier
    # that multiplies, so the member's tier is not read (tests/loyalty/test_earn_config.py); the earn's
    # key names the purchase just inserted, so it is neither looked up nor guarded by a savepoint.
    sql = [query["sql"] for query in statements.captured_queries]
    assert "COMMIT" in sql, "\n".join(sql)
    assert len(sql[:sql.index("COMMIT") + 1]) == 5, "\n".join(statement[:120] for statement in sql)
    assert PurchaseLine.objects.get(purchase=result.purchase).amount == Decimal("250.00")
    assert Purchase.objects.get(pk=result.purchase.pk).balance_after == 20 == result.balance


def test_a_replay_answers_from_the_first_purchase_and_writes_nothing(member):
    first = record(member, order_id="POS-9")
    replay = record(member, order_id="POS-9")
    assert not replay.created
    assert replay.purchase.pk == first.purchase.pk
    assert replay.balance == first.balance == 10
    assert Purchase.objects.count() == LedgerEntry.objects.count() == 1


def test_a_replay_with_another_total_is_a_conflict_and_writes_nothing(member):
    record(member, order_id="POS-9")
    with pytest.raises(IdempotencyConflict):
        record(member, order_id="POS-9", total="999.00")
    assert Purchase.objects.count() == LedgerEntry.objects.count() == 1
    assert PointAccount.objects.get().balance == 10


def test_a_suspended_member_still_gets_the_answer_of_an_earlier_order_but_earns_nothing_new(member):
    first = record(member, order_id="POS-1")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    member.refresh_from_db()
    assert record(member, order_id="POS-1").purchase.pk == first.purchase.pk
    with pytest.raises(MemberInactive):
        record(member, order_id="POS-2")
    assert Purchase.objects.count() == 1
    assert PointAccount.objects.get().balance == 10


def test_every_line_is_written_exactly_in_order(member):
    lines = [LineInput(amount=Decimal("120.50"), sku="ลาเต้เย็น", category="เครื่องดื่ม", quantity=2),
             LineInput(amount=Decimal("0"), sku='quote " and \\ backslash', category="", quantity=1),
             LineInput(amount=Decimal("9999999.99"), sku="", category="bulk", quantity=30000),
             LineInput(amount=Decimal("0.1"))]
    result = purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id="LINES-1",
                             total=Decimal("10000120.59"), lines=lines, purchased_at=timezone.now())
    written = list(PurchaseLine.objects.filter(purchase=result.purchase).order_by("pk")
                   .values_list("sku", "category", "quantity", "amount"))
    assert written == [("ลาเต้เย็น", "เครื่องดื่ม", 2, Decimal("120.50")), ('quote " and \\ backslash', "", 1, Decimal("0.00")),
                       ("", "bulk", 30000, Decimal("9999999.99")), ("", "", 1, Decimal("0.10"))]


def test_accounts_of_two_currencies_are_locked_together(member):
    stamps = PointCurrency.objects.create(brand=member.brand, code="STAMP", name="Stamps")
    currencies = [member.brand.currencies.get(is_default=True), stamps]
    with transaction.atomic():
        first = member_accounts_lock(member=member, currencies=currencies)  # opens both
    with transaction.atomic(), CaptureQueriesContext(connection) as statements:
        second = member_accounts_lock(member=member, currencies=currencies)
    assert {currency.pk for currency in currencies} == set(first) == set(second)
    assert [query["sql"].count("FOR UPDATE") for query in statements.captured_queries] == [1]
