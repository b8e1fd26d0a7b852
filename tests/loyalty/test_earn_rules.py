"""The earn-rule engine and ``purchase_record`` with it: scoped rules, rounding, tiers,
promotions, their windows, audiences, caps and stacking, and what is stored with each earn.

Every expected number is written out. The brand of ``brand_with_program`` earns 1 point per
25 THB (round down, on the bill) and has one branch, MAIN. 2 March 2026 is a Monday.
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty.models import (
    EarnPolicy,
    EarnRule,
    LedgerEntry,
    MemberTier,
    PointAccount,
    PointCurrency,
    Promotion,
    PromotionAward,
    Purchase,
    Tier,
)
from loyalty.services.earn_engine import earn_compute
from loyalty.services.earning import LineInput, points_preview, purchase_record
from loyalty.services.ledger import Channel
from loyalty.services.verification import ledger_mismatches
from members.models import Branch
from tests import factories
from tests.loyalty.test_regressions import run_concurrently

BANGKOK = ZoneInfo("Asia/Bangkok")
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=BANGKOK)

pytestmark = pytest.mark.django_db


def bangkok(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BANGKOK)


def compute(brand, total, lines=(), *, member=None, channel=Channel.POS, branch=None, at=MONDAY_NOON, **kwargs):
    """The default currency's result for this bill."""
    results = earn_compute(brand=brand, member=member, channel=channel, branch=branch, total=Decimal(total),
                           lines=[LineInput(**line) for line in lines], at=at, **kwargs)
    return next(result for result in results if result.currency.code == "points")


def line(amount, sku="", category="", quantity=1):
    return {"amount": Decimal(amount), "sku": sku, "category": category, "quantity": quantity}


def promotion(brand, **fields):
    values = {"brand": brand, "currency": brand.currencies.get(is_default=True), "name": "Promo",
              "kind": Promotion.Kind.BILL_BONUS, "starts_at": bangkok(1, 0), "ends_at": bangkok(31, 0)}
    values.update(fields)
    tiers, branches = values.pop("tiers", []), values.pop("branches", [])
    created = Promotion.objects.create(**values)
    created.tiers.set(tiers)
    created.branches.set(branches)
    return created


def rule(brand, spend, points, **scope):
    return EarnRule.objects.create(brand=brand, currency=brand.currencies.get(is_default=True),
                                   spend_amount=Decimal(spend), points=points, **scope)


def tier(brand, code, rank, multiplier="1"):
    return Tier.objects.create(brand=brand, code=code, name=code.title(), rank=rank,
                               earn_multiplier=Decimal(multiplier))


def give_tier(member, member_tier):
    MemberTier.objects.create(member=member, brand=member.brand, tier=member_tier)


def record(member, order_id, total, lines=None, at=MONDAY_NOON, branch=None):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(**item) for item in lines or []],
                           purchased_at=at, branch=branch)


def steps(result, step):
    return [item for item in result.explanation if item["step"] == step]


# --- base rate and rounding -----------------------------------------------------------------------------


def test_bill_of_1234_50_at_25_thb_a_point_rounds_down_to_49(brand):
    result = compute(brand, "1234.50")
    assert (result.base_points, result.points) == (49, 49)
    assert steps(result, "rounding") == [{"step": "rounding", "mode": "down", "scope": "bill", "exact": "49.38",
                                          "points": 49}]
    assert any("49.38 → 49" in text for text in result.text)


def test_half_up_rounding_rounds_49_5_to_50_where_down_gives_49(brand):
    assert compute(brand, "1237.50").points == 49
    EarnPolicy.objects.create(brand=brand, rounding="half_up")
    assert compute(brand, "1237.50").points == 50
    assert compute(brand, "1234.50").points == 49


def test_rounding_per_line_and_on_the_bill_give_different_points(brand):
    lines = [line("37.50", "A"), line("37.50", "B")]  # 1.5 points each
    assert compute(brand, "75.00", lines).points == 3  # on the bill: 1.5 + 1.5 = 3
    EarnPolicy.objects.create(brand=brand, rounding="down", rounding_scope="line")
    assert compute(brand, "75.00", lines).points == 2  # per line: 1 + 1


# --- scoped rules ---------------------------------------------------------------------------------------


def test_sku_rule_beats_category_rule_beats_base_rate(brand):
    rule(brand, "20", 1, category="coffee")
    rule(brand, "10", 1, sku="LATTE")
    result = compute(brand, "300.00", [line("100", "LATTE", "coffee"), line("100", "MOCHA", "coffee"),
                                       line("100", "CAKE", "bakery")])
    # 100/10 + 100/20 + 100/25 = 10 + 5 + 4
    assert result.points == 19
    assert [item["points"] for item in steps(result, "line")] == ["10", "5", "4"]
    assert [item["specificity"] for item in steps(result, "line")] == [8, 4, 0]


def test_a_category_rule_of_zero_points_excludes_its_lines(brand):
    rule(brand, "25", 0, category="tobacco")
    result = compute(brand, "600.00", [line("500", "CIG", "tobacco"), line("100", "LATTE", "coffee")])
    assert result.points == 4
    assert steps(result, "line")[0]["excluded"] is True
    assert "excluded" in result.text[0]


def test_branch_and_channel_rules_override_the_base_rate(brand):
    main = brand.branches.get(code="MAIN")
    other = Branch.objects.create(brand=brand, code="SILOM", name="Silom")
    rule(brand, "10", 1, branch=main)
    rule(brand, "50", 1, channel=Channel.ECOMMERCE)
    assert compute(brand, "100", branch=main).points == 10
    assert compute(brand, "100", branch=other).points == 4
    assert compute(brand, "100", branch=other, channel=Channel.ECOMMERCE).points == 2
    assert compute(brand, "100", branch=main, channel=Channel.ECOMMERCE).points == 2  # channel beats branch


def test_a_rule_applies_only_from_its_minimum_bill(brand):
    rule(brand, "10", 1, category="coffee", minimum_spend=Decimal("200"))
    assert compute(brand, "100", [line("100", "LATTE", "coffee")]).points == 4  # base rate
    assert compute(brand, "200", [line("200", "LATTE", "coffee")]).points == 20


def test_lines_that_do_not_add_up_to_the_total_are_scaled_pro_rata(brand):
    rule(brand, "10", 1, sku="LATTE")
    result = compute(brand, "150.00", [line("100", "LATTE"), line("100", "CAKE")])
    # each line becomes 75 THB: 75/10 + 75/25 = 7.5 + 3 = 10.5 → 10
    assert result.points == 10
    assert steps(result, "lines_scaled") == [{"step": "lines_scaled", "lines_total": "200.00", "total": "150.00"}]
    assert [item["amount"] for item in steps(result, "line")] == ["75.00", "75.00"]


# --- tiers and promotions ---------------------------------------------------------------------------------


def test_tier_multiplier_of_1_5_adds_half_the_base_points(brand, member):
    give_tier(member, tier(brand, "gold", 2, "1.5"))
    result = compute(brand, "1000", member=member)
    assert (result.base_points, result.tier_points, result.points) == (40, 20, 60)


def test_double_points_and_a_50_point_bonus_from_500_thb_stack(brand):
    promotion(brand, name="x2", kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"), priority=10)
    promotion(brand, name="+50", bonus_points=50, minimum_bill=Decimal("500"), priority=20)
    result = compute(brand, "600")
    assert (result.base_points, result.bonus_points, result.points) == (24, 74, 98)
    assert [(award.promotion.name, award.points) for award in result.awards] == [("x2", 24), ("+50", 50)]
    below = compute(brand, "400")
    assert below.points == 32  # 16 + 16, no bonus below 500 THB
    assert steps(below, "promotion")[1]["reason"] == "below_minimum"


def test_a_multiplier_for_one_category_doubles_only_those_lines(brand):
    promotion(brand, kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("3"), categories="coffee")
    result = compute(brand, "200", [line("100", "LATTE", "coffee"), line("100", "CAKE", "bakery")])
    assert result.points == 8 + 8  # base 4 + 4; coffee's 4 × (3 − 1)


def test_item_bonus_is_per_unit_of_matching_skus(brand):
    promotion(brand, kind=Promotion.Kind.ITEM_BONUS, bonus_points=5, skus="LATTE, MOCHA")
    result = compute(brand, "250", [line("150", "LATTE", quantity=3), line("50", "MOCHA"), line("50", "CAKE")])
    assert result.points == 10 + 20  # base 250/25; 4 units × 5


def test_an_exclusive_promotion_stops_the_later_ones(brand):
    first = promotion(brand, name="First", bonus_points=30, priority=10, exclusive=True)
    promotion(brand, name="Later", bonus_points=50, priority=20)
    result = compute(brand, "600")
    assert result.points == 24 + 30
    assert steps(result, "promotion")[1]["reason"] == "stopped_by_exclusive"
    Promotion.objects.filter(pk=first.pk).update(exclusive=False)
    assert compute(brand, "600").points == 24 + 30 + 50


def test_a_promotion_earlier_in_priority_applies_first_even_if_created_later(brand):
    promotion(brand, name="Later", bonus_points=50, priority=20)
    promotion(brand, name="Exclusive first", bonus_points=10, priority=5, exclusive=True)
    assert compute(brand, "100").points == 4 + 10


def test_weekday_window_starts_at_midnight_bangkok_time(brand):
    promotion(brand, name="Monday", bonus_points=50, weekdays="0")
    assert compute(brand, "100", at=bangkok(2, 0, 0)).points == 54  # Monday 00:00 Bangkok = Sunday 17:00 UTC
    sunday = compute(brand, "100", at=bangkok(1, 23, 59))
    assert sunday.points == 4
    assert steps(sunday, "promotion")[0]["reason"] == "wrong_day"


def test_an_overnight_window_belongs_to_the_day_it_starts(brand):
    promotion(brand, name="Friday night", bonus_points=50, weekdays="4",
              time_from=datetime(2026, 1, 1, 22).time(), time_until=datetime(2026, 1, 1, 2).time())
    assert compute(brand, "100", at=bangkok(6, 23, 0)).points == 54  # Friday 23:00
    assert compute(brand, "100", at=bangkok(7, 1, 30)).points == 54  # Saturday 01:30, still Friday night
    assert compute(brand, "100", at=bangkok(7, 2, 0)).points == 4  # Saturday 02:00: over
    assert compute(brand, "100", at=bangkok(6, 21, 59)).points == 4  # Friday before 22:00
    saturday_night = compute(brand, "100", at=bangkok(7, 23, 0))
    assert saturday_night.points == 4
    assert steps(saturday_night, "promotion")[0]["reason"] == "wrong_day"
    assert steps(compute(brand, "100", at=bangkok(7, 2, 0)), "promotion")[0]["reason"] == "outside_hours"


def test_a_promotion_outside_its_dates_does_not_apply(brand):
    promotion(brand, bonus_points=50, starts_at=bangkok(3, 0), ends_at=bangkok(4, 0))
    assert compute(brand, "100", at=bangkok(2, 23, 59)).points == 4
    assert compute(brand, "100", at=bangkok(3, 0, 0)).points == 54
    assert compute(brand, "100", at=bangkok(4, 0, 0)).points == 4


def test_a_promotion_for_gold_members_skips_silver_members(brand):
    gold, silver = tier(brand, "gold", 2), tier(brand, "silver", 1)
    promotion(brand, bonus_points=50, tiers=[gold])
    silver_member, gold_member = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=brand)
    give_tier(silver_member, silver)
    give_tier(gold_member, gold)
    skipped = compute(brand, "100", member=silver_member)
    assert skipped.points == 4
    assert steps(skipped, "promotion")[0]["reason"] == "wrong_tier"
    assert compute(brand, "100", member=gold_member).points == 54
    assert compute(brand, "100", member=factories.MemberFactory(brand=brand)).points == 4  # no tier


def test_branch_and_channel_audiences(brand):
    main = brand.branches.get(code="MAIN")
    other = Branch.objects.create(brand=brand, code="SILOM", name="Silom")
    promotion(brand, bonus_points=50, branches=[main], channels="pos,cashier")
    assert compute(brand, "100", branch=main).points == 54
    assert steps(compute(brand, "100", branch=other), "promotion")[0]["reason"] == "wrong_branch"
    web = compute(brand, "100", branch=main, channel=Channel.ECOMMERCE)
    assert (web.points, steps(web, "promotion")[0]["reason"]) == (4, "wrong_channel")


def test_cap_per_bill_limits_one_promotion(brand):
    promotion(brand, kind=Promotion.Kind.ITEM_BONUS, bonus_points=10, cap_per_bill=30)
    assert compute(brand, "100", [line("100", "LATTE", quantity=5)]).points == 4 + 30


def test_brand_cap_limits_all_promotions_of_one_bill(brand):
    EarnPolicy.objects.create(brand=brand, bonus_cap_per_bill=60)
    promotion(brand, name="A", bonus_points=50, priority=1)
    promotion(brand, name="B", bonus_points=50, priority=2)
    promotion(brand, name="C", bonus_points=50, priority=3)
    result = compute(brand, "100")
    assert result.points == 4 + 60
    assert [(award.promotion.name, award.points) for award in result.awards] == [("A", 50), ("B", 10)]


def test_cap_per_member_per_day_across_purchases(brand, member):
    promo = promotion(brand, bonus_points=50, cap_per_member=80, cap_period=Promotion.CapPeriod.DAY)
    first = record(member, "D-1", "100", at=bangkok(2, 9))
    second = record(member, "D-2", "100", at=bangkok(2, 23, 59))
    third = record(member, "D-3", "100", at=bangkok(3, 0, 0))  # a new Bangkok day
    assert [p.points_earned for p in (first.purchase, second.purchase, third.purchase)] == [54, 34, 54]
    assert list(PromotionAward.objects.filter(promotion=promo).order_by("id").values_list("points", flat=True)) == [
        50, 30, 50]
    fourth = record(member, "D-4", "100", at=bangkok(3, 10))
    assert fourth.purchase.points_earned == 34
    fifth = record(member, "D-5", "100", at=bangkok(3, 11))
    assert fifth.purchase.points_earned == 4  # cap reached for the day
    assert PromotionAward.objects.filter(promotion=promo).count() == 4
    assert ledger_mismatches() == []


def test_cap_per_member_for_the_whole_promotion_in_the_preview_without_a_member(brand):
    promotion(brand, bonus_points=50, cap_per_member=10)
    result = compute(brand, "100")
    assert result.points == 54  # no member: the per-member cap is not checked, and the preview says so
    assert "cap per member not checked" in " ".join(result.text)


# --- purchase_record with the engine ----------------------------------------------------------------------


def test_the_explanation_and_awards_are_stored_with_the_earn_entry(brand, member):
    promo = promotion(brand, name="Double", kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"))
    result = record(member, "E-1", "1234.50", lines=[line("1234.50", "LATTE", "coffee")])
    assert result.points_earned == 98
    entry = LedgerEntry.objects.get(purchase=result.purchase)
    assert entry.amount == 98
    assert entry.details["base"] == 49 and entry.details["bonus"] == 49
    assert entry.details["promotions"] == [{"promotion": promo.pk, "points": 49}]
    assert [item["step"] for item in entry.details["explanation"]] == ["line", "rounding", "promotion", "total"]
    assert entry.details["text"][-1] == "Total: 49 base + 0 tier + 49 promotions = 98 Points."
    award = PromotionAward.objects.get()
    assert (award.promotion, award.member, award.purchase, award.points, award.awarded_at) == (
        promo, member, result.purchase, 49, MONDAY_NOON)


def test_a_replayed_purchase_writes_no_second_entry_or_award(brand, member):
    promotion(brand, bonus_points=50)
    first = record(member, "R-1", "100")
    again = record(member, "R-1", "100")
    assert (first.created, again.created) == (True, False)
    assert again.points_earned == 54 and again.balance == 54
    assert LedgerEntry.objects.count() == 1
    assert PromotionAward.objects.count() == 1
    assert PointAccount.objects.get(member=member).balance == 54


def test_a_currency_shared_with_the_brand_earns_with_its_rule(brand, other_brand, member):
    group = PointCurrency.objects.create(brand=other_brand, code="group", name="Group")
    group.shared_with.add(brand)
    EarnRule.objects.create(brand=brand, currency=group, spend_amount=Decimal("100"), points=1)
    result = record(member, "S-1", "1000")
    assert sorted((earned.currency, earned.points) for earned in result.earned) == [("group", 10), ("points", 40)]
    assert result.points_earned == 40
    assert [(currency.code, points) for currency, points in points_preview(brand=brand, total=Decimal("1000"))] == [
        ("points", 40), ("group", 10)]


def test_an_inactive_promotion_counts_only_in_a_preview_that_asks_for_it(brand):
    promotion(brand, bonus_points=50, is_active=False)
    assert compute(brand, "100").points == 4
    previewed = compute(brand, "100", include_inactive=True)
    assert previewed.points == 54
    assert steps(previewed, "promotion_inactive")


def test_points_preview_matches_what_the_purchase_earns(brand, member):
    promotion(brand, bonus_points=50, minimum_bill=Decimal("500"))
    rule(brand, "10", 1, category="coffee")
    lines = [line("300", "LATTE", "coffee"), line("300", "CAKE", "bakery")]
    preview = points_preview(brand=brand, total=Decimal("600"), channel=Channel.POS,
                             lines=[LineInput(**item) for item in lines], at=MONDAY_NOON, member=member)
    assert [(currency.code, points) for currency, points in preview] == [("points", 30 + 12 + 50)]
    assert record(member, "P-1", "600", lines=lines).points_earned == 92


@pytest.mark.django_db(transaction=True)
def test_two_purchases_at_once_never_pass_the_per_member_cap():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    promotion(brand, bonus_points=50, cap_per_member=50)
    results, errors = run_concurrently(lambda: record(member, "T-1", "100"), lambda: record(member, "T-2", "100"))
    assert errors == [None, None]
    assert sorted(result.points_earned for result in results) == [4, 54]
    assert list(PromotionAward.objects.values_list("points", flat=True)) == [50]
    assert PointAccount.objects.get(member=member).balance == 58
    assert Purchase.objects.count() == 2
    assert ledger_mismatches() == []


def test_cap_week_runs_monday_to_sunday_in_bangkok(brand, member):
    promotion(brand, bonus_points=50, cap_per_member=50, cap_period=Promotion.CapPeriod.WEEK,
              ends_at=bangkok(31, 0))
    assert record(member, "W-1", "100", at=bangkok(8, 23, 59)).points_earned == 54  # Sunday 8 March
    assert record(member, "W-2", "100", at=bangkok(9, 0, 0)).points_earned == 54  # Monday 00:00
    assert record(member, "W-3", "100", at=bangkok(15, 23)).points_earned == 4  # Sunday of the same week
