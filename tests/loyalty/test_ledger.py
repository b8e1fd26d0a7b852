"""The ledger's contract: idempotent, locked, append-only, lots spent earliest-expiry first."""

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from config.append_only import AppendOnlyError
from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, LotAllocation, PointAccount, PointLot
from loyalty.services.ledger import (
    Channel,
    Kind,
    Source,
    account_get_or_create,
    points_expire_account,
    points_post,
)
from loyalty.services.verification import ledger_mismatches
from tests import factories

SPEND = Source(channel=Channel.REWARD)


def spend(account, amount, key):
    return points_post(account=account, amount=-amount, kind=Kind.REDEEM, idempotency_key=key, source=SPEND)


def test_same_key_twice_writes_one_entry(member):
    first = factories.give_points(member, 100, key="k1")
    second = factories.give_points(member, 100, key="k1")
    assert first.pk == second.pk
    assert LedgerEntry.objects.count() == 1
    assert PointAccount.objects.get().balance == 100


def test_failed_debit_changes_nothing(member):
    factories.give_points(member, 30, key="k1")
    account = PointAccount.objects.get()
    with pytest.raises(InsufficientPoints):
        spend(account, 31, "too-much")
    account.refresh_from_db()
    assert account.balance == 30
    assert LedgerEntry.objects.count() == 1
    assert PointLot.objects.get().remaining == 30
    assert not LotAllocation.objects.exists()


def test_spending_consumes_the_lots_that_expire_first(member):
    now = timezone.now()
    late = factories.give_points(member, 100, key="late", expires_at=now + timedelta(days=300))
    never = factories.give_points(member, 100, key="never", expires_at=None)
    soon = factories.give_points(member, 100, key="soon", expires_at=now + timedelta(days=10))
    account = PointAccount.objects.get()
    spend(account, 150, "spend-150")
    remaining = {lot.entry_id: lot.remaining for lot in PointLot.objects.all()}
    assert remaining == {soon.pk: 0, late.pk: 50, never.pk: 100}
    spend(account, 100, "spend-100")
    remaining = {lot.entry_id: lot.remaining for lot in PointLot.objects.all()}
    assert remaining == {soon.pk: 0, late.pk: 0, never.pk: 50}
    assert ledger_mismatches() == []


def test_due_lots_expire_before_a_debit_checks_funds(member):
    now = timezone.now()
    factories.give_points(member, 80, key="old", expires_at=now - timedelta(minutes=1))
    factories.give_points(member, 30, key="fresh", expires_at=now + timedelta(days=30))
    account = PointAccount.objects.get()
    assert account.balance == 110
    with pytest.raises(InsufficientPoints):
        spend(account, 50, "spend")
    # the failed debit rolled back everything, the expiry included
    account.refresh_from_db()
    assert account.balance == 110
    assert points_expire_account(account=account) == 80
    account.refresh_from_db()
    assert account.balance == 30
    expired = LedgerEntry.objects.get(kind=Kind.EXPIRE)
    assert expired.amount == -80 and expired.idempotency_key.startswith("expire:")
    assert points_expire_account(account=account) == 0
    assert ledger_mismatches() == []


def test_ledger_rows_are_append_only(member):
    entry = factories.give_points(member, 10, key="k1")
    entry.reason = "edited"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert LedgerEntry.objects.get().reason == "test"


def test_database_refuses_a_negative_balance(member):
    factories.give_points(member, 10, key="k1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointAccount.objects.update(balance=-1)


def test_idempotency_key_is_unique_per_brand_not_globally(member, other_brand):
    other_member = factories.MemberFactory(brand=other_brand)
    factories.give_points(member, 10, key="same-key")
    factories.give_points(other_member, 20, key="same-key")
    assert LedgerEntry.objects.count() == 2


def test_verify_ledger_finds_a_tampered_balance(member):
    factories.give_points(member, 10, key="k1")
    PointAccount.objects.update(balance=15)
    checks = {mismatch.check for mismatch in ledger_mismatches()}
    assert checks == {"balance_vs_entries", "balance_vs_lots"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 100, key="seed")
    account = PointAccount.objects.get()
    barrier = threading.Barrier(8)
    results = []

    def debit(i):
        barrier.wait()
        try:
            spend(account, 30, f"debit-{i}")
            results.append("ok")
        except InsufficientPoints:
            results.append("insufficient")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 3
    account.refresh_from_db()
    assert account.balance == 10
    assert ledger_mismatches() == []


operations = st.lists(
    st.tuples(st.sampled_from(["earn", "spend", "expire_soon"]), st.integers(min_value=1, max_value=500)),
    min_size=1,
    max_size=25,
)


class LedgerPropertyTests(HypothesisTestCase):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def test_any_sequence_keeps_balance_equal_to_entries_and_never_negative(self, ops):
        brand = factories.brand_with_program(slug="prop")
        member = factories.MemberFactory(brand=brand)
        account = account_get_or_create(member=member, currency=brand.currencies.get())
        now = timezone.now()
        for index, (op, amount) in enumerate(ops):
            if op == "earn":
                factories.give_points(member, amount, key=f"e{index}", expires_at=now + timedelta(days=amount))
            elif op == "expire_soon":
                factories.give_points(member, amount, key=f"x{index}", expires_at=now - timedelta(seconds=1))
            else:
                with contextlib.suppress(InsufficientPoints):
                    spend(account, amount, f"s{index}")
            account.refresh_from_db()
            assert account.balance >= 0
        assert ledger_mismatches() == []
