"""Refunds reverse exactly the points a purchase earned, pro rata, never below zero."""

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import PurchaseAlreadyRefunded, RefundExceedsTotal
from loyalty.models import LedgerEntry, PointAccount, Purchase, PurchaseRefund
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import Channel
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.loyalty.test_ledger import spend


def record(member, order_id="O-1", total="1000.00"):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))],
                           purchased_at=timezone.now()).purchase


def balance(member):
    return PointAccount.objects.get(member=member).balance


def test_partial_refunds_reverse_pro_rata_and_the_last_one_reverses_the_rest(member):
    purchase = record(member, total="1000.00")  # 40 points
    assert balance(member) == 40
    first = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("330.00")).refund
    assert first.points_reversed == 13  # 40 × 330/1000 = 13.2, rounded down
    second = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("330.00")).refund
    assert second.points_reversed == 13  # cumulative 26.4 → 26
    rest = purchase_refund(brand=member.brand, purchase_id=purchase.pk).refund
    assert rest.amount == Decimal("340.00") and rest.points_reversed == 14
    assert balance(member) == 0
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    with pytest.raises(PurchaseAlreadyRefunded):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk)
    assert ledger_mismatches() == []


def test_refund_after_points_were_spent_records_the_shortfall_and_keeps_the_balance_at_zero(member):
    purchase = record(member, total="1000.00")  # 40 points
    spend(PointAccount.objects.get(member=member), 30, "spent")
    refund = purchase_refund(brand=member.brand, purchase_id=purchase.pk).refund
    assert (refund.points_reversed, refund.points_shortfall) == (10, 30)
    assert refund.details == {"points": {"target": 40, "expired": 0, "reversed": 10, "shortfall": 30}}
    assert balance(member) == 0
    assert ledger_mismatches() == []


def test_refund_takes_the_purchase_own_lot_first(member):
    factories.give_points(member, 100, key="older", expires_at=timezone.now() + timezone.timedelta(days=1))
    purchase = record(member, total="250.00")  # 10 points, expires in a year
    purchase_refund(brand=member.brand, purchase_id=purchase.pk)
    own_lot = purchase.ledger_entries.get(kind=LedgerEntry.Kind.EARN).lot
    own_lot.refresh_from_db()
    assert own_lot.remaining == 0
    assert balance(member) == 100


def test_replayed_refund_id_refunds_once(member):
    purchase = record(member)
    first = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("100"), refund_id="R1")
    again = purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("100"), refund_id="R1")
    assert first.created and not again.created and again.refund.pk == first.refund.pk
    assert PurchaseRefund.objects.count() == 1
    assert balance(member) == 36


def test_refund_larger_than_what_is_left_changes_nothing(member):
    purchase = record(member)
    purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("900"))
    with pytest.raises(RefundExceedsTotal):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("100.01"))
    purchase.refresh_from_db()
    assert purchase.refunded_total == Decimal("900.00")
    assert PurchaseRefund.objects.count() == 1
