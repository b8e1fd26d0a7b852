"""Review of the earn engine, promotions and purchase earning: regressions for bugs found.

The brand of ``brand_with_program`` earns 1 point per 25 THB (round down, on the bill) and
has one branch, MAIN. 2 March 2026 is a Monday; 6 March a Friday.
"""

from datetime import time
from decimal import Decimal

import pytest
from django.urls import reverse

from config.domain import ValidationFailed
from loyalty.models import (
    EarnRule,
    LedgerEntry,
    PointAccount,
    PointCurrency,
    Promotion,
    PromotionAward,
    Purchase,
)
from loyalty.services.earning import purchase_refund
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.loyalty.test_earn_preview_admin import PREVIEW, preview
from tests.loyalty.test_earn_rules import bangkok, compute, line, promotion, record, rule, steps
from tests.members.test_admin import logged_in

pytestmark = pytest.mark.django_db


# --- exact arithmetic -------------------------------------------------------------------------------


def test_three_thirds_of_a_point_add_up_to_one_point_on_the_bill(brand):
    """3 THB = 1 point, three lines of 1 THB: 1/3 + 1/3 + 1/3 is exactly 1, not 0.999… rounded down."""
    EarnRule.objects.filter(brand=brand).update(spend_amount=Decimal("3"))
    result = compute(brand, "3", [line("1", sku="A"), line("1", sku="B"), line("1", sku="C")])
    assert result.points == 1
    assert steps(result, "rounding")[0]["exact"] == "1"


def test_lines_scaled_pro_rata_keep_their_exact_sum(brand):
    """Lines of 10 + 10 + 10 on a bill of 100 THB: each is 33.33…, together exactly 100 → 4 points."""
    result = compute(brand, "100", [line("10", sku="A"), line("10", sku="B"), line("10", sku="C")])
    assert result.points == 4
    assert steps(result, "rounding")[0]["exact"] == "4"


def test_half_up_rounds_an_exact_half_of_scaled_lines_up(brand):
    """Lines 1 + 2 scaled to a bill of 37.50 THB (1.5 points exactly) round half up to 2."""
    from loyalty.models import EarnPolicy

    EarnPolicy.objects.update_or_create(brand=brand, defaults={"rounding": "half_up"})
    result = compute(brand, "37.50", [line("1", sku="A"), line("2", sku="B")])
    assert result.points == 2


# --- promotions --------------------------------------------------------------------------------------


def test_a_bill_bonus_for_chosen_skus_needs_one_of_them_on_the_bill(brand):
    promotion(brand, name="Cake bonus", bonus_points=20, skus="CAKE")
    without = compute(brand, "100", [line("100", sku="LATTE")])
    assert without.points == 4
    assert steps(without, "promotion")[0]["reason"] == "no_points"
    assert compute(brand, "200", [line("100", sku="LATTE"), line("100", sku="CAKE")]).points == 8 + 20


def test_a_bill_bonus_without_sku_filter_still_applies_when_every_line_is_excluded(brand):
    """docs/earning.md: a currency that gives only bonuses has a 0-point base rule; bill bonuses still apply."""
    EarnRule.objects.filter(brand=brand).update(points=0)
    promotion(brand, name="Visit bonus", bonus_points=10)
    assert compute(brand, "100").points == 10


def test_a_zero_bill_earns_no_promotion_points(brand, member):
    """A bill of 0 THB cannot be refunded, so it must not earn a bonus nobody can take back."""
    promotion(brand, name="Visit bonus", bonus_points=10)
    result = compute(brand, "0")
    assert result.points == 0
    assert steps(result, "promotion")[0]["reason"] == "below_minimum"
    purchase = record(member, "ZERO-1", "0").purchase
    assert purchase.points_earned == 0
    assert not PromotionAward.objects.exists()


def test_an_overnight_promotion_caps_per_member_per_night_not_per_calendar_day(brand, member):
    """22:00–02:00, at most 50 points per member per day: Friday 23:00 and Saturday 01:00 are one night."""
    promotion(brand, name="Night owl", bonus_points=50, cap_per_member=50, cap_period=Promotion.CapPeriod.DAY,
              time_from=time(22), time_until=time(2))
    assert record(member, "N-1", "100", at=bangkok(6, 23)).points_earned == 4 + 50  # Friday night
    assert record(member, "N-2", "100", at=bangkok(7, 1)).points_earned == 4  # still Friday night: capped
    assert record(member, "N-3", "100", at=bangkok(7, 23)).points_earned == 4 + 50  # Saturday night: new
    assert record(member, "N-4", "100", at=bangkok(8, 1, 30)).points_earned == 4  # still Saturday night


def test_an_overnight_promotion_caps_per_week_by_the_night_it_started(brand, member):
    """Sunday 23:00 – Monday 01:00 is Sunday's night, so it counts in the week that ends on that Sunday."""
    promotion(brand, name="Night owl", bonus_points=50, cap_per_member=50, cap_period=Promotion.CapPeriod.WEEK,
              time_from=time(22), time_until=time(2))
    assert record(member, "W-1", "100", at=bangkok(8, 23)).points_earned == 54  # Sunday night
    assert record(member, "W-2", "100", at=bangkok(9, 1)).points_earned == 4  # Monday 01:00: Sunday's night
    assert record(member, "W-3", "100", at=bangkok(9, 23)).points_earned == 54  # Monday night: new week


# --- purchases and refunds ---------------------------------------------------------------------------


def test_a_refund_reports_only_the_brands_own_default_currency(brand, other_brand):
    """A currency shared with the brand that is another brand's default is not the refund's ``points_reversed``."""
    theirs = other_brand.currencies.get(is_default=True)
    theirs.shared_with.add(brand)
    EarnRule.objects.create(brand=brand, currency=theirs, spend_amount=Decimal("100"), points=1)
    member = factories.MemberFactory(brand=brand)
    purchase = record(member, "SH-1", "1000").purchase
    assert purchase.points_earned == 40
    refund = purchase_refund(brand=brand, purchase_id=purchase.pk).refund
    assert refund.points_reversed == 40
    assert refund.details[f"points@{other_brand.pk}"]["reversed"] == 10  # not mixed up with ours
    assert ledger_mismatches() == []


def test_a_full_refund_reverses_bonus_and_tier_points_exactly(brand, member):
    promotion(brand, name="Bonus", bonus_points=50, minimum_bill=Decimal("500"))
    purchase = record(member, "RB-1", "600").purchase
    assert purchase.points_earned == 24 + 50
    first = purchase_refund(brand=brand, purchase_id=purchase.pk, amount=Decimal("200")).refund
    assert first.points_reversed == 24  # floor(74 × 200 / 600)
    second = purchase_refund(brand=brand, purchase_id=purchase.pk).refund
    assert second.points_reversed == 74 - 24
    assert PointAccount.objects.get(member=member, currency__is_default=True).balance == 0
    assert ledger_mismatches() == []


@pytest.mark.parametrize("bad_line", [line("-10", sku="DISCOUNT"), line("10", sku="A", quantity=0)])
def test_a_purchase_with_a_negative_amount_or_quantity_line_is_refused_and_writes_nothing(brand, member, bad_line):
    with pytest.raises(ValidationFailed):
        record(member, "NEG-1", "100", lines=[line("110", sku="A"), bad_line])
    assert not Purchase.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_a_replayed_purchase_returns_the_same_result_and_writes_nothing(brand, member):
    promotion(brand, name="Bonus", bonus_points=50)
    first = record(member, "R-1", "100")
    counts = (LedgerEntry.objects.count(), PromotionAward.objects.count(), Purchase.objects.count())
    second = record(member, "R-1", "100")
    assert (second.created, second.points_earned, second.balance, second.earned) == (
        False, first.points_earned, first.balance, first.earned)
    assert (LedgerEntry.objects.count(), PromotionAward.objects.count(), Purchase.objects.count()) == counts


# --- the staff preview --------------------------------------------------------------------------------


@pytest.fixture
def staff_client(brand):
    return logged_in(factories.staff_user(brands=[brand], username="staff-review"))


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "1e30", "12345678901234"])
def test_preview_refuses_an_unreadable_or_huge_line_amount(staff_client, brand, amount):
    response = preview(staff_client, brand, lines=f"A,cat,1,{amount}")
    assert response.status_code == 200
    assert "earn-preview-results" not in response.content.decode()
    assert response.context["form"].errors["lines"]


def test_preview_refuses_lines_adding_up_beyond_a_bill(staff_client, brand):
    lines = "\n".join(["A,cat,1,9999999999.99"] * 2)
    response = preview(staff_client, brand, lines=lines)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_preview_of_another_brands_member_code_finds_nobody(staff_client, brand, other_brand):
    stranger = factories.MemberFactory(brand=other_brand)
    response = preview(staff_client, brand, total="100", member_code=stranger.code)
    assert response.context["form"].errors["member_code"]
    response = staff_client.get(reverse(PREVIEW), {"brand": other_brand.pk, "channel": "pos",
                                                   "at": "2026-03-02T12:00", "total": "100"})
    assert response.context["form"].errors["brand"]


def test_preview_writes_nothing(staff_client, brand, member):
    promotion(brand, name="Bonus", bonus_points=50, cap_per_member=100)
    before = (LedgerEntry.objects.count(), PromotionAward.objects.count(), Purchase.objects.count(),
              PointAccount.objects.count(), PointCurrency.objects.count())
    response = preview(staff_client, brand, total="100", member_code=member.code)
    assert response.status_code == 200
    assert "earn-preview-results" in response.content.decode()
    assert (LedgerEntry.objects.count(), PromotionAward.objects.count(), Purchase.objects.count(),
            PointAccount.objects.count(), PointCurrency.objects.count()) == before


def test_the_stored_explanation_adds_up_to_the_points(brand, member):
    rule(brand, "10", 1, sku="LATTE")
    promotion(brand, name="Double", kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"), priority=1)
    promotion(brand, name="Bonus", bonus_points=30, cap_per_bill=20, priority=2)
    purchase = record(member, "EX-1", "300", lines=[line("100", sku="LATTE"), line("200", sku="CAKE")]).purchase
    entry = LedgerEntry.objects.get(purchase=purchase)
    details = entry.details
    assert entry.amount == details["base"] + details["tier"] + details["bonus"] == 18 + 18 + 20
    assert details["bonus"] == sum(item["points"] for item in details["promotions"])
    total = [item for item in details["explanation"] if item["step"] == "total"][0]
    assert total["points"] == entry.amount
