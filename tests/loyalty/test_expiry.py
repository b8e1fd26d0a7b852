"""The nightly expiry job (``loyalty.services.expiry.points_expire_due``)."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import JobRun, LedgerEntry, LotAllocation, PointAccount, PointCurrency, PointLot
from loyalty.services.expiry import points_expire_due
from loyalty.services.ledger import (
    Channel,
    Kind,
    Source,
    lot_expiry,
    points_expire_account,
    points_post,
)
from loyalty.services.verification import ledger_mismatches
from tests import factories

BANGKOK = ZoneInfo("Asia/Bangkok")
NOW = datetime(2026, 6, 15, 3, 0, tzinfo=BANGKOK)


def bkk(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)


def account_of(member) -> PointAccount:
    return PointAccount.objects.get(member=member)


def spend(member, amount: int, key: str):
    account = account_of(member)
    return points_post(account=account, amount=-amount, kind=Kind.REDEEM, idempotency_key=key,
                       source=Source(channel=Channel.REWARD))


@pytest.mark.django_db
@pytest.mark.parametrize(("policy", "period", "earned_at", "last_day"), [
    ("days", 30, bkk(2026, 1, 10, 23, 59), bkk(2026, 2, 9)),
    ("days", 1, bkk(2026, 3, 1, 0, 30), bkk(2026, 3, 2)),  # 17:30 UTC on 28 Feb: the Bangkok day counts
    ("months", 1, bkk(2026, 1, 31, 23, 59), bkk(2026, 2, 28)),  # 31 Jan + 1 month clamps to 28 Feb
    ("months", 12, bkk(2024, 2, 29, 23, 59), bkk(2025, 2, 28)),
    ("year_end", 0, bkk(2026, 12, 31, 23, 59), bkk(2026, 12, 31)),
    ("year_end", 1, bkk(2026, 3, 15, 23, 59), bkk(2027, 12, 31)),
])
def test_points_expire_at_bangkok_midnight_after_the_last_valid_day(policy, period, earned_at, last_day):
    brand = factories.brand_with_program()
    PointCurrency.objects.filter(brand=brand).update(expiry_policy=policy, expiry_period=period)
    currency = brand.currencies.get(is_default=True)
    member = factories.MemberFactory(brand=brand)
    expires_at = lot_expiry(currency=currency, earned_at=earned_at)
    assert expires_at == last_day + timedelta(days=1)
    factories.give_points(member, 80, key="earned", expires_at=expires_at)

    last_second = last_day.replace(hour=23, minute=59, second=59)
    assert points_expire_due(now=last_second)["accounts"] == 0
    assert account_of(member).balance == 80

    result = points_expire_due(now=last_day + timedelta(days=1))
    assert (result["accounts"], result["points"], result["lots"]) == (1, 80, 1)
    assert account_of(member).balance == 0
    assert ledger_mismatches() == []


@pytest.fixture
def three_members(brand):
    """m1: lots 30 and 20 due, 50 not; m2: 15 due; m3: 40 not due."""
    m1, m2, m3 = (factories.MemberFactory(brand=brand) for _ in range(3))
    past, future = NOW - timedelta(days=1), NOW + timedelta(days=30)
    factories.give_points(m1, 30, key="m1-a", expires_at=past - timedelta(days=2))
    factories.give_points(m1, 50, key="m1-b", expires_at=future)
    factories.give_points(m1, 20, key="m1-c", expires_at=past)
    factories.give_points(m2, 15, key="m2-a", expires_at=NOW)  # due exactly at ``now``
    factories.give_points(m3, 40, key="m3-a", expires_at=future)
    return m1, m2, m3


@pytest.mark.django_db
def test_one_expire_entry_per_account_closes_every_due_lot(three_members):
    m1, m2, m3 = three_members
    lots = {lot.entry.idempotency_key: lot for lot in PointLot.objects.select_related("entry")}

    result = points_expire_due(now=NOW)

    assert result == {"accounts": 2, "points": 65, "lots": 3, "batches": 1, "run_key": "2026-06-15"}
    entry = LedgerEntry.objects.get(account__member=m1, kind=Kind.EXPIRE)
    first_lot = lots["m1-a"].pk
    assert (entry.amount, entry.balance_after, entry.channel) == (-50, 50, Channel.SYSTEM)
    assert entry.idempotency_key == f"expire:{entry.account_id}:{first_lot}"
    assert entry.reference == "2 lot(s)"
    assert entry.details == {"lots": [first_lot, lots["m1-c"].pk]}
    assert entry.brand_id == m1.brand_id
    assert sorted(LotAllocation.objects.filter(entry=entry).values_list("lot_id", "amount")) == [
        (first_lot, 30), (lots["m1-c"].pk, 20)]
    assert dict(PointLot.objects.filter(account__member=m1).values_list("entry__idempotency_key", "remaining")) == {
        "m1-a": 0, "m1-b": 50, "m1-c": 0}
    assert [account_of(member).balance for member in (m1, m2, m3)] == [50, 0, 40]
    assert LedgerEntry.objects.get(account__member=m2, kind=Kind.EXPIRE).amount == -15
    assert not LedgerEntry.objects.filter(account__member=m3, kind=Kind.EXPIRE).exists()
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_a_second_run_writes_nothing_and_both_runs_are_recorded(three_members):
    points_expire_due(now=NOW)
    counts = (LedgerEntry.objects.count(), LotAllocation.objects.count())

    assert points_expire_due(now=NOW + timedelta(hours=1))["accounts"] == 0

    assert (LedgerEntry.objects.count(), LotAllocation.objects.count()) == counts
    assert list(JobRun.objects.filter(job="points_expire").order_by("id").values_list("run_key", "rows")) == [
        ("2026-06-15", 2), ("2026-06-15", 0)]
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_small_batches_give_the_same_result(three_members):
    result = points_expire_due(now=NOW, batch_accounts=1)
    assert (result["accounts"], result["points"], result["batches"]) == (2, 65, 2)
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_a_partly_spent_lot_expires_its_remainder(brand):
    member = factories.MemberFactory(brand=brand)
    now = timezone.now()
    factories.give_points(member, 100, key="old", expires_at=now + timedelta(days=1))
    factories.give_points(member, 100, key="new", expires_at=now + timedelta(days=100))
    spend(member, 70, key="spend")  # from the lot that expires first

    result = points_expire_due(now=now + timedelta(days=2))

    assert (result["accounts"], result["points"]) == (1, 30)
    assert account_of(member).balance == 100
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_the_job_and_the_lazy_expiry_write_the_same_key_once(brand):
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 25, key="due", expires_at=NOW - timedelta(days=1))
    assert points_expire_account(account=account_of(member), now=NOW) == 25  # the online path went first

    assert points_expire_due(now=NOW)["accounts"] == 0
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).count() == 1
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_brand_limits_the_job_to_that_brand(brand, other_brand):
    ours = factories.MemberFactory(brand=brand)
    theirs = factories.MemberFactory(brand=other_brand)
    factories.give_points(ours, 10, key="ours", expires_at=NOW - timedelta(days=1))
    factories.give_points(theirs, 10, key="theirs", expires_at=NOW - timedelta(days=1))

    assert points_expire_due(now=NOW, brand=other_brand)["accounts"] == 1

    assert (account_of(ours).balance, account_of(theirs).balance) == (10, 0)


@pytest.mark.django_db
def test_never_expiring_points_stay(brand):
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 10, key="forever", expires_at=None)
    assert points_expire_due(now=NOW + timedelta(days=10_000))["accounts"] == 0
    assert account_of(member).balance == 10


def _run_in_thread(target, results, name):
    def run():
        try:
            results[name] = target()
        except Exception as error:  # noqa: BLE001 - reported by the test
            results[name] = error
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_debit_holding_the_account_lock_makes_the_job_find_nothing_to_expire(brand):
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 40, key="due", expires_at=timezone.now() - timedelta(days=1))
    factories.give_points(member, 60, key="open", expires_at=timezone.now() + timedelta(days=30))
    locked, results = threading.Event(), {}

    def debit():
        with transaction.atomic():
            entry = spend(member, 10, key="spend")  # lazily expires the due lot, under the account lock
            locked.set()
            time.sleep(0.5)  # the job starts and waits for this lock
        return entry

    debit_thread = _run_in_thread(debit, results, "debit")
    assert locked.wait(10)
    job_thread = _run_in_thread(points_expire_due, results, "job")
    debit_thread.join(10)
    job_thread.join(10)

    assert results["job"]["accounts"] == 0  # re-selected the due lots under the lock: none left
    assert results["debit"].amount == -10
    assert list(LedgerEntry.objects.filter(kind=Kind.EXPIRE).values_list("amount", flat=True)) == [-40]
    assert account_of(member).balance == 50
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_debit_racing_the_job_never_double_expires(brand):
    members = [factories.MemberFactory(brand=brand) for _ in range(6)]
    for number, member in enumerate(members):
        factories.give_points(member, 40, key=f"due-{number}", expires_at=timezone.now() - timedelta(days=1))
        factories.give_points(member, 60, key=f"open-{number}", expires_at=timezone.now() + timedelta(days=30))
    start, results = threading.Barrier(2), {}

    def debits():
        start.wait()
        return [spend(member, 10, key=f"spend-{number}").amount for number, member in enumerate(members)]

    def job():
        start.wait()
        return points_expire_due(batch_accounts=2)

    threads = [_run_in_thread(debits, results, "debits"), _run_in_thread(job, results, "job")]
    for thread in threads:
        thread.join(20)

    assert results["debits"] == [-10] * 6
    assert isinstance(results["job"], dict)
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).count() == 6
    assert sorted(set(LedgerEntry.objects.filter(kind=Kind.EXPIRE).values_list("amount", flat=True))) == [-40]
    assert [account_of(member).balance for member in members] == [50] * 6
    assert ledger_mismatches() == []
