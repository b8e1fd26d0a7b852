from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import BANGKOK, Channel
from tests import factories

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=BANGKOK)  # a Monday


def bangkok(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)


@pytest.fixture
def buy(django_capture_on_commit_callbacks):
    """Record a purchase through the real service and deliver its events (as after a commit)."""

    def record(member, total, at, order_id, *, lines=(), branch=None):
        line_inputs = [LineInput(amount=Decimal(amount), sku=sku, category=category) for sku, category, amount in lines]
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                                   total=Decimal(total), lines=line_inputs, purchased_at=at, branch=branch).purchase

    return record


@pytest.fixture
def refund(django_capture_on_commit_callbacks):
    def record(purchase, amount=None):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return purchase_refund(brand=purchase.brand, purchase_id=purchase.pk,
                                   amount=Decimal(amount) if amount is not None else None).refund

    return record


@pytest.fixture
def people(brand):
    """Five members of ``brand`` by first name, plus one of another brand."""

    def make(name, **extra):
        return factories.MemberFactory(brand=brand, first_name=name, **extra)

    return {
        "ann": make("Ann", code="ANNAAAAA", gender="female", birth_date=date(1990, 6, 20)),
        "bee": make("Bee", code="BEEBBBBB", gender="male", birth_date=date(2001, 1, 5)),
        "cat": make("Cat", code="CATCCCCC", gender="", birth_date=None),
        "dan": make("Dan", code="DANDDDDD", gender="other", birth_date=date(1966, 6, 15)),
        "eve": make("Eve", code="EVEEEEEE", status="pending", user=None, line_user_id=None, phone="+66811111111"),
    }
