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


def brute_force(brand, start, end):
    """Active and repeat members of a period by grouping the member-day rows (what the links replace)."""
    per_member = {}
    for member_id, purchases in MemberDayFact.objects.filter(brand=brand, day__range=(start, end)).values_list(
            "member_id", "purchases"):
        per_member[member_id] = per_member.get(member_id, 0) + purchases
    return len(per_member), sum(1 for n in per_member.values() if n >= 2)


def test_neighbour_links_give_the_distinct_counts_of_every_period_even_after_a_middle_day_goes(march, time_machine):
    from campaigns.analytics.kpis import Period, period_kpis

    from .conftest import at, buy

    brand = march["brand"]
    a, b, _c, _d = march["members"]
    time_machine.move_to(at(12))
    buy(a, "A-12", "80", at(12))
    buy(b, "B-12a", "40", at(12, 9))
    buy(b, "B-12b", "60", at(12, 18))
    time_machine.move_to(at(1, 9, month=4))
    facts_rebuild(start=date(2025, 3, 1), end=date(2025, 3, 31))

    def check_every_period():
        for first in range(1, 32):
            for last in range(first, 32):
                start, end = date(2025, 3, first), date(2025, 3, last)
                kpis = period_kpis(brand=brand, period=Period(start, end))
                assert (kpis["active_members"], kpis["repeat_members"]) == brute_force(brand, start, end), (first, last)

    check_every_period()
    a12 = MemberDayFact.objects.get(member_id=a.pk, day=date(2025, 3, 12))
    assert (a12.prev_day, a12.next_day) == (date(2025, 3, 10), date(2025, 3, 15))
    kpis = period_kpis(brand=brand, period=Period(date(2025, 3, 12), date(2025, 3, 12)))
    assert (kpis["active_members"], kpis["repeat_members"]) == (2, 1)  # B bought twice that day

    # A's purchase of the 12th is refunded: rebuilding that day alone re-links the 10th and the 15th.
    time_machine.move_to(at(2, 9, month=4))
    purchase_refund(brand=brand, purchase_id=Purchase.objects.get(order_id="A-12").pk, refund_id="R-A12")
    facts_rebuild(start=date(2025, 3, 12))
    a10 = MemberDayFact.objects.get(member_id=a.pk, day=date(2025, 3, 10))
    a15 = MemberDayFact.objects.get(member_id=a.pk, day=date(2025, 3, 15))
    assert (a10.next_day, a15.prev_day) == (date(2025, 3, 15), date(2025, 3, 10))
    check_every_period()
