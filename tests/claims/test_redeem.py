"""Claiming a code: once ever, in its window, within the member's limit, guessing rate-limited."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from loyalty.claims.errors import (
    ClaimCodeExpired,
    ClaimCodeInvalid,
    ClaimCodeNotYetValid,
    ClaimCodeUsed,
    ClaimLimitReached,
    ClaimRateLimited,
)
from loyalty.claims.models import ClaimCode
from loyalty.claims.selectors import claim_url
from loyalty.claims.services import claim_batch_create, claim_code_redeem, claim_form_submit
from loyalty.models import LedgerEntry, PointAccount, PointLot
from loyalty.services.verification import ledger_mismatches
from members.errors import MemberInactive
from members.models import MEMBER_CODE_ALPHABET, Member
from messaging.models import OutboundMessage
from tests import factories

BANGKOK = ZoneInfo("Asia/Bangkok")


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def test_a_code_pays_out_once_with_an_expiring_lot_and_a_line_notification(
        brand, member, make_batch, django_capture_on_commit_callbacks):
    batch, codes = make_batch(brand, points=25, sku="BEANS-250", campaign="Songkran",
                              valid_from=datetime(2026, 4, 1, tzinfo=BANGKOK))
    with time_machine.travel(datetime(2026, 4, 13, 15, 0, tzinfo=BANGKOK), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        entry = claim_code_redeem(member=member, code=codes[2])

    assert (entry.kind, entry.channel, entry.amount, entry.balance_after) == ("earn", "claim_code", 25, 25)
    assert entry.idempotency_key == f"claim:{batch.pk}:{ClaimCode.objects.get(batch=batch, number=3).pk}"
    assert entry.details["sku"] == "BEANS-250" and entry.reference == f"{batch.name} #3"
    assert PointLot.objects.get(entry=entry).expires_at == datetime(2027, 4, 14, tzinfo=BANGKOK)  # 365 days
    claimed = ClaimCode.objects.get(batch=batch, number=3)
    assert (claimed.claimed_by, claimed.ledger_entry, claimed.claimed_at is not None) == (member, entry, True)
    assert OutboundMessage.objects.filter(brand=brand, template="points_earned",
                                          dedupe_key=f"earned:{entry.pk}").exists()

    other = factories.MemberFactory(brand=brand)
    with pytest.raises(ClaimCodeUsed):
        claim_code_redeem(member=other, code=codes[2])
    assert balance(other) == 0 and balance(member) == 25
    assert LedgerEntry.objects.count() == 1
    assert ledger_mismatches() == []


def test_the_same_member_claiming_a_code_again_gets_the_first_entry_and_nothing_more(brand, member, make_batch):
    _batch, codes = make_batch(brand)
    first = claim_code_redeem(member=member, code=codes[0])
    again = claim_code_redeem(member=member, code=codes[0])
    assert again.pk == first.pk
    assert LedgerEntry.objects.count() == 1 and balance(member) == 10


@pytest.mark.parametrize("typed", [
    lambda code: code.lower(),
    lambda code: code.replace("-", " "),
    lambda code: f"  {code.replace('-', '')}\n",
    lambda code: f"http://127.0.0.1:8000/liff/acme/claim/?code={code}",
])
def test_codes_are_accepted_as_typed_or_as_the_scanned_claim_url(brand, member, make_batch, typed):
    _batch, codes = make_batch(brand)
    assert claim_code_redeem(member=member, code=typed(codes[1])).amount == 10


def test_the_label_url_holds_the_code_for_the_brands_claim_page(brand, make_batch, settings):
    settings.SITE_URL = "https://loyalty.example.com/"
    batch, codes = make_batch(brand)
    assert claim_url(batch=batch, code=codes[0]) == f"https://loyalty.example.com/liff/acme/claim/?code={codes[0]}"


@pytest.mark.parametrize("code", ["", "ABCD", "ABCD-EFGH-JKLM-NPQ0", "ABCD-EFGH-JKLM-NPQR", "ก" * 16])
def test_malformed_or_unknown_codes_are_invalid(brand, member, make_batch, code):
    make_batch(brand)
    with pytest.raises(ClaimCodeInvalid) as raised:
        claim_code_redeem(member=member, code=code)
    assert raised.value.code == "claim_code_invalid"
    assert not LedgerEntry.objects.exists()


def test_another_brands_code_is_invalid_and_counts_as_a_wrong_code(brand, other_brand, member, make_batch,
                                                                   settings):
    settings.CLAIM_WRONG_CODES_PER_HOUR = 1
    _batch, codes = make_batch(other_brand)
    with pytest.raises(ClaimCodeInvalid):
        claim_code_redeem(member=member, code=codes[0])
    assert ClaimCode.objects.filter(claimed_by__isnull=False).count() == 0
    with pytest.raises(ClaimRateLimited):
        claim_code_redeem(member=member, code=codes[1])


def test_codes_pay_only_within_their_validity_window(brand, member, make_batch):
    start = datetime(2026, 6, 1, 9, 0, tzinfo=BANGKOK)
    _batch, codes = make_batch(brand, valid_from=start, valid_until=start + timedelta(days=30))
    with time_machine.travel(start - timedelta(minutes=1), tick=False), pytest.raises(ClaimCodeNotYetValid):
        claim_code_redeem(member=member, code=codes[0])
    with time_machine.travel(start + timedelta(days=30), tick=False), pytest.raises(ClaimCodeExpired):
        claim_code_redeem(member=member, code=codes[0])
    assert not LedgerEntry.objects.exists() and not ClaimCode.objects.filter(claimed_by__isnull=False).exists()
    with time_machine.travel(start, tick=False):
        assert claim_code_redeem(member=member, code=codes[0]).amount == 10
    with time_machine.travel(start + timedelta(days=29, hours=23), tick=False):
        assert claim_code_redeem(member=member, code=codes[1]).amount == 10
    assert ledger_mismatches() == []


def test_a_member_claims_at_most_the_batchs_limit_and_others_still_can(brand, member, make_batch):
    batch, codes = make_batch(brand, per_member_limit=2)
    claim_code_redeem(member=member, code=codes[0])
    claim_code_redeem(member=member, code=codes[1])
    with pytest.raises(ClaimLimitReached):
        claim_code_redeem(member=member, code=codes[2])
    assert ClaimCode.objects.get(batch=batch, number=3).claimed_by is None  # rolled back
    assert balance(member) == 20

    other_batch, other_codes = make_batch(brand, per_member_limit=2)
    assert claim_code_redeem(member=member, code=other_codes[0]).amount == 10  # limits are per batch
    other = factories.MemberFactory(brand=brand)
    assert claim_code_redeem(member=other, code=codes[2]).amount == 10
    assert ledger_mismatches() == []


def test_ten_wrong_codes_lock_the_member_out_for_an_hour_even_for_right_codes(brand, member, make_batch):
    _batch, codes = make_batch(brand)
    other = factories.MemberFactory(brand=brand)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for attempt in range(10):
            with pytest.raises(ClaimCodeInvalid):
                claim_code_redeem(member=member, code=f"ABCD-EFGH-JKLM-NPQ{MEMBER_CODE_ALPHABET[attempt]}")
        with pytest.raises(ClaimRateLimited) as raised:
            claim_code_redeem(member=member, code=codes[0])
        assert raised.value.context["retry_at"] == start + timedelta(hours=1)
        assert claim_code_redeem(member=other, code=codes[1]).amount == 10  # per member
    with time_machine.travel(start + timedelta(minutes=59), tick=False), pytest.raises(ClaimRateLimited):
        claim_code_redeem(member=member, code=codes[0])
    assert ClaimCode.objects.get(batch=_batch, number=1).claimed_by is None
    with time_machine.travel(start + timedelta(hours=1, seconds=1), tick=False):
        assert claim_code_redeem(member=member, code=codes[0]).amount == 10


def test_used_expired_or_limited_codes_do_not_count_as_guesses(brand, member, make_batch, settings):
    settings.CLAIM_WRONG_CODES_PER_HOUR = 2
    _batch, codes = make_batch(brand, per_member_limit=1)
    other = factories.MemberFactory(brand=brand)
    claim_code_redeem(member=other, code=codes[0])
    claim_code_redeem(member=member, code=codes[1])
    for _ in range(3):
        with pytest.raises(ClaimCodeUsed):
            claim_code_redeem(member=member, code=codes[0])
        with pytest.raises(ClaimLimitReached):
            claim_code_redeem(member=member, code=codes[2])
    assert claim_code_redeem(member=member, code=codes[1]).amount == 10


def test_a_double_submitted_form_with_a_wrong_code_counts_once(brand, member, make_batch, settings):
    settings.CLAIM_WRONG_CODES_PER_HOUR = 2
    _batch, codes = make_batch(brand)
    for _ in range(3):
        with pytest.raises(ClaimCodeInvalid):
            claim_form_submit(member=member, code="ABCD-EFGH-JKLM-NPQR", request_id="form-1")
    entry = claim_form_submit(member=member, code=codes[0], request_id="form-2")
    assert claim_form_submit(member=member, code=codes[0], request_id="form-2").pk == entry.pk
    assert LedgerEntry.objects.count() == 1


def test_suspended_members_cannot_claim(brand, make_batch):
    _batch, codes = make_batch(brand)
    suspended = factories.MemberFactory(brand=brand, status=Member.Status.SUSPENDED)
    with pytest.raises(MemberInactive):
        claim_code_redeem(member=suspended, code=codes[0])
    assert not ClaimCode.objects.filter(claimed_by__isnull=False).exists()


# --- concurrency: real threads on PostgreSQL ------------------------------------------------


def _in_threads(*calls):
    """Run each call in its own thread and connection, started together; returns results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_members_claiming_the_same_code_at_once_pay_out_exactly_once():
    brand = factories.brand_with_program()
    _batch, codes = claim_batch_create(brand=brand, name="Race", points=7, quantity=3)
    first, second = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=brand)
    for code in codes:
        results = _in_threads(lambda code=code: claim_code_redeem(member=first, code=code),
                              lambda code=code: claim_code_redeem(member=second, code=code))
        winners = [r for r in results if isinstance(r, LedgerEntry)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, ClaimCodeUsed) for r in results) == 1, results
    assert LedgerEntry.objects.count() == 3
    assert balance(first) + balance(second) == 21
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_members_double_tap_from_two_requests_at_once_earns_once():
    brand = factories.brand_with_program()
    _batch, codes = claim_batch_create(brand=brand, name="Double tap", points=7, quantity=1)
    member = factories.MemberFactory(brand=brand)
    results = _in_threads(*[lambda: claim_code_redeem(member=member, code=codes[0])] * 4)
    assert all(isinstance(r, LedgerEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert LedgerEntry.objects.count() == 1 and balance(member) == 7
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_a_member_claiming_several_codes_at_once_stays_within_the_limit():
    brand = factories.brand_with_program()
    batch, codes = claim_batch_create(brand=brand, name="Limit", points=3, quantity=6, per_member_limit=2)
    member = factories.MemberFactory(brand=brand)
    results = _in_threads(*[lambda code=code: claim_code_redeem(member=member, code=code) for code in codes])
    assert sum(isinstance(r, LedgerEntry) for r in results) == 2, results
    assert sum(isinstance(r, ClaimLimitReached) for r in results) == 4, results
    assert ClaimCode.objects.filter(batch=batch, claimed_by=member).count() == 2
    assert balance(member) == 6
    assert ledger_mismatches() == []
