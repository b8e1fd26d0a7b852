"""Concurrent purchases of one member: each refresh sees the other's purchase (real threads, PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.segments.models import MemberPurchaseMonth, MemberStats
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from tests import factories

from .conftest import bangkok


@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_of_one_member_are_all_counted():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    barrier = threading.Barrier(4)
    errors = []

    def buy(number: int) -> None:
        try:
            barrier.wait()
            purchase_record(brand=brand, member=member, channel=Channel.POS, order_id=f"T{number}",
                            total=Decimal("100"), lines=[LineInput(amount=Decimal("100"), sku="LATTE")],
                            purchased_at=bangkok(2026, 5, 1 + number, 9))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stats = MemberStats.objects.get(member=member)
    assert (stats.purchase_count, stats.total_spend, stats.last_purchase_at) == (4, Decimal("400.00"),
                                                                                 bangkok(2026, 5, 4, 9))
    assert list(MemberPurchaseMonth.objects.values_list("code", "purchases")) == [("LATTE", 4)]
