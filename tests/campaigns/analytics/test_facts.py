"""The daily facts: a rebuild is idempotent, equals a live computation, and follows refunds."""

from datetime import date
from decimal import Decimal

from campaigns.analytics.facts import facts_rebuild
from campaigns.analytics.models import BrandDayFact, DimensionDayFact, MemberDayFact
from loyalty.models import Purchase
from loyalty.services.earning import purchase_refund


def snapshot():
    return (
        sorted(BrandDayFact.objects.values_list("brand_id", "day", "new_members", "purchases", "purchasers", "spend",
                                                "points_issued", "points_redeemed", "points_expired",
                                                "points_reversed")),
        sorted(MemberDayFact.objects.values_list("brand_id", "day", "member_id", "purchases", "spend")),
        sorted(DimensionDayFact.objects.values_list("brand_id", "day", "dimension", "key", "count", "amount",
                                                    "points")),
    )


def test_rebuild_twice_gives_the_same_rows_and_matches_live(march):
    facts_rebuild(start=date(2025, 2, 1), end=date(2025, 3, 31))
    first = snapshot()
    facts_rebuild(start=date(2025, 2, 1), end=date(2025, 3, 31))
    assert snapshot() == first
    # day by day gives what the range gave
    for day in (date(2025, 3, 10), date(2025, 3, 15)):
        facts_rebuild(start=day)
    assert snapshot() == first
    brand = march["brand"]
    a, b, c, _d = march["members"]
    tenth = BrandDayFact.objects.get(brand=brand, day=date(2025, 3, 10))
    assert (tenth.purchases, tenth.purchasers, tenth.spend, tenth.points_issued) == (2, 2, Decimal("350.00"), 14)
    # live: the purchases of the brand in March, straight from the table
    live = Purchase.objects.filter(brand=brand, purchased_at__month=3).count()
    assert sum(f.purchases for f in BrandDayFact.objects.filter(brand=brand)) == live == 4
    assert set(MemberDayFact.objects.filter(brand=brand).values_list("member_id", flat=True)) == {a.pk, b.pk, c.pk}


def test_a_full_refund_removes_the_purchase_from_its_day(march, time_machine):
    facts_rebuild(start=date(2025, 3, 20))
    _a, _b, c, _d = march["members"]
    assert MemberDayFact.objects.filter(member_id=c.pk).count() == 1
    purchase = Purchase.objects.get(order_id="C-1")
    purchase_refund(brand=march["brand"], purchase_id=purchase.pk, refund_id="R-1")
    facts_rebuild(start=date(2025, 3, 20))
    assert MemberDayFact.objects.filter(member_id=c.pk).count() == 0
    fact = BrandDayFact.objects.get(brand=march["brand"], day=date(2025, 3, 20))
    assert (fact.purchases, fact.spend, fact.points_issued) == (0, Decimal("0.00"), 2)  # the reversal is on 1 April
    dimensions = set(DimensionDayFact.objects.filter(brand=march["brand"], day=date(2025, 3, 20))
                     .values_list("dimension", flat=True))
    assert dimensions == {"channel"}
