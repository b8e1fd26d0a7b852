"""Member statistics: the incremental refresh equals the nightly rebuild; RFM scores and groups."""

from decimal import Decimal

import pytest

from campaigns.segments.models import MemberPurchaseMonth, MemberStats, RfmGroup
from campaigns.segments.stats import RFM_MAP, member_stats_rebuild, rfm_group
from tests import factories

from .conftest import NOW, bangkok

MAINTAINED = ["member_id", "brand_id", "first_purchase_at", "last_purchase_at", "purchase_count", "total_spend",
              "average_ticket", "favourite_branch_id", "usual_weekday", "usual_hour"]


def snapshot():
    stats = sorted(MemberStats.objects.values_list(*MAINTAINED))
    months = sorted(MemberPurchaseMonth.objects.values_list("member_id", "kind", "code", "month", "first_at",
                                                            "last_at", "purchases"))
    return stats, months


def test_incremental_statistics_equal_the_nightly_rebuild(brand, people, buy, refund):
    second = factories.BranchFactory(brand=brand, code="B2")
    main = brand.branches.get(code="MAIN")
    ann, bee = people["ann"], people["bee"]
    buy(ann, "100.00", bangkok(2026, 3, 2, 8, 30), "A1", lines=[("LATTE", "coffee", "100")], branch=main)
    p2 = buy(ann, "250.00", bangkok(2026, 3, 9, 18, 0), "A2", lines=[("CAKE", "bakery", "250")], branch=second)
    buy(ann, "75.50", bangkok(2026, 4, 6, 8, 5), "A3", lines=[("LATTE", "coffee", "75.50")], branch=main)
    p4 = buy(bee, "300.00", bangkok(2026, 5, 1, 12, 0), "B1", lines=[("TEA", "tea", "300")])
    refund(p2, "50.00")  # partial: still a purchase, spend 200
    refund(p4)  # full: Bee has no purchase left, spend 0

    ann_stats = MemberStats.objects.get(member=ann)
    assert (ann_stats.purchase_count, ann_stats.total_spend, ann_stats.average_ticket) == (3, Decimal("375.50"),
                                                                                          Decimal("125.17"))
    assert ann_stats.first_purchase_at == bangkok(2026, 3, 2, 8, 30)
    assert ann_stats.last_purchase_at == bangkok(2026, 4, 6, 8, 5)
    assert (ann_stats.favourite_branch_id, ann_stats.usual_weekday, ann_stats.usual_hour) == (main.pk, 1, 8)
    bee_stats = MemberStats.objects.get(member=bee)
    assert (bee_stats.purchase_count, bee_stats.total_spend, bee_stats.average_ticket,
            bee_stats.last_purchase_at) == (0, Decimal("0.00"), None, None)
    incremental = snapshot()
    assert len(incremental[1]) == 6  # Ann: LATTE and coffee in March and April, CAKE and bakery in March
    MemberStats.objects.all().delete()
    MemberPurchaseMonth.objects.all().delete()

    assert member_stats_rebuild(brand=brand, now=NOW) == {"members": 2, "months": 6}
    assert snapshot() == incremental


def test_a_redelivered_event_changes_nothing(brand, people, buy):
    from campaigns.segments.stats import member_stats_refresh

    buy(people["ann"], "100", bangkok(2026, 3, 2, 8, 30), "A1", lines=[("LATTE", "coffee", "100")])
    before = snapshot()
    member_stats_refresh(member_id=people["ann"].pk)
    assert snapshot() == before
    assert member_stats_refresh(member_id=people["dan"].pk) is None  # never bought: no row
    assert not MemberStats.objects.filter(member=people["dan"]).exists()


def test_rfm_groups_on_a_hand_built_distribution(brand, buy):
    # Five buyers: scores 1..5 each. (R, F): A (5, 5), B (4, 1), C (3, 3), D (2, 4), E (1, 2).
    plan = {  # name: (last purchase day in May, purchases)
        "A": (30, 5), "B": (25, 1), "C": (20, 3), "D": (15, 4), "E": (10, 2),
    }
    members = {}
    for name, (last_day, count) in plan.items():
        member = factories.MemberFactory(brand=brand, first_name=name)
        members[name] = member
        for number in range(count):
            buy(member, str(100 * (number + 1)), bangkok(2026, 5, last_day - number, 10), f"{name}{number}")
    member_stats_rebuild(brand=brand, now=NOW)
    rows = {row.member.first_name: row for row in MemberStats.objects.select_related("member")}
    assert {name: (row.recency_score, row.frequency_score) for name, row in rows.items()} == {
        "A": (5, 5), "B": (4, 1), "C": (3, 3), "D": (2, 4), "E": (1, 2)}
    # M by spend: B 100, E 300, C 600, D 1000, A 1500.
    assert {name: row.monetary_score for name, row in rows.items()} == {"B": 1, "E": 2, "C": 3, "D": 4, "A": 5}
    assert {name: row.rfm_group for name, row in rows.items()} == {
        "A": RfmGroup.CHAMPIONS, "B": RfmGroup.PROMISING, "C": RfmGroup.NEED_ATTENTION, "D": RfmGroup.AT_RISK,
        "E": RfmGroup.HIBERNATING}
    assert all(row.scored_at == NOW for row in rows.values())
    # A later purchase refreshes the counts at once; scores wait for the night.
    buy(members["E"], "50", bangkok(2026, 6, 14, 10), "E9")
    refreshed = MemberStats.objects.get(member=members["E"])
    assert (refreshed.purchase_count, refreshed.rfm_group) == (3, RfmGroup.HIBERNATING)


def test_scores_are_quintiles_per_brand(brand, other_brand, buy):
    for index in range(10):
        member = factories.MemberFactory(brand=brand, first_name=f"M{index}")
        buy(member, "100", bangkok(2026, 5, 1 + index, 10), f"M{index}")
    lone = factories.MemberFactory(brand=other_brand, first_name="Lone")
    buy(lone, "100", bangkok(2026, 1, 1, 10), "L1")
    member_stats_rebuild(now=NOW)
    recency = dict(MemberStats.objects.filter(brand=brand).values_list("member__first_name", "recency_score"))
    assert recency == {"M0": 1, "M1": 1, "M2": 2, "M3": 2, "M4": 3, "M5": 3, "M6": 4, "M7": 4, "M8": 5, "M9": 5}
    lone_stats = MemberStats.objects.get(member=lone)
    # Alone in its brand: first quintile of one (NTILE(5) over one row is 1) -> R1 F1: Lost.
    assert (lone_stats.recency_score, lone_stats.frequency_score, lone_stats.rfm_group) == (1, 1, RfmGroup.LOST)


def test_the_rfm_map_names_each_of_the_25_cells_once():
    cells = [cell for group_cells in RFM_MAP.values() for cell in group_cells]
    assert sorted(cells) == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert len(RFM_MAP) == 11
    assert [rfm_group(5, 5), rfm_group(5, 1), rfm_group(1, 5), rfm_group(1, 1), rfm_group(3, 3)] == [
        "champions", "new_customers", "cant_lose_them", "lost", "need_attention"]
    with pytest.raises(ValueError):
        rfm_group(0, 3)
