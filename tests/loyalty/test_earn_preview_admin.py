"""The earning admin: the rule preview page, the promotion form (weekday and channel
checkboxes, brand-scoped tiers and branches), the stacking text on the lists, and scoping.

Every test drives the real admin through Django's test client with a logged-in staff user.
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from loyalty.models import EarnRule, LedgerEntry, MemberTier, Promotion, PromotionAward, Purchase, Tier
from members.models import Branch
from tests import factories
from tests.members.test_admin import logged_in

pytestmark = pytest.mark.django_db

BANGKOK = ZoneInfo("Asia/Bangkok")
PREVIEW = "admin:loyalty_earnrule_preview"


@pytest.fixture
def staff_client(brand):
    return logged_in(factories.staff_user(brands=[brand], username="staff-a"))


@pytest.fixture
def two_brand_client(brand, other_brand):
    return logged_in(factories.staff_user(brands=[brand, other_brand], username="two-brands"))


def preview(client, brand, **params):
    query = {"brand": brand.pk, "branch": brand.branches.get(code="MAIN").pk, "channel": "pos",
             "at": "2026-03-02T12:00", "lines": "", "total": "", **params}
    return client.get(reverse(PREVIEW), {key: value for key, value in query.items() if value is not None})


def make_promotion(brand, **fields):
    values = {"brand": brand, "currency": brand.currencies.get(is_default=True), "name": "Bonus 50",
              "kind": Promotion.Kind.BILL_BONUS, "bonus_points": 50,
              "starts_at": datetime(2026, 3, 1, tzinfo=BANGKOK), "ends_at": datetime(2026, 4, 1, tzinfo=BANGKOK)}
    return Promotion.objects.create(**{**values, **fields})


def test_preview_shows_points_and_the_line_by_line_explanation(staff_client, brand):
    EarnRule.objects.create(brand=brand, currency=brand.currencies.get(), sku="LATTE", spend_amount=Decimal("10"),
                            points=1)
    response = preview(staff_client, brand, lines="LATTE,coffee,2,130\nCAKE,bakery,1,95")
    assert response.status_code == 200
    result = response.context["results"][0]
    assert result.points == 13 + 3  # 130/10 + 95/25 = 13 + 3.8 → 16.8, rounded down once on the bill
    assert result.points == 16
    page = response.content.decode()
    assert 'data-testid="earn-points-points">16<' in page
    assert "Line 1 (LATTE, coffee, ×2, 130.00 THB): rule 10.00 THB = 1 (SKU LATTE) → 13 points." in page
    assert "Rounding (Round down) on the bill: 16.8 → 16 base points." in page
    assert not Purchase.objects.exists() and not LedgerEntry.objects.exists()  # nothing written


def test_preview_without_lines_uses_the_total(staff_client, brand):
    response = preview(staff_client, brand, total="1234.50")
    assert response.context["results"][0].points == 49
    assert "The bill has no lines: its total of 1234.50 THB is one line." in response.content.decode()


def test_preview_includes_an_inactive_promotion_only_when_asked(staff_client, brand):
    make_promotion(brand, is_active=False)
    assert preview(staff_client, brand, total="100").context["results"][0].points == 4
    response = preview(staff_client, brand, total="100", include_inactive="on")
    assert response.context["results"][0].points == 54
    assert "Promotion “Bonus 50” is not active: shown for this preview only." in response.content.decode()
    assert not PromotionAward.objects.exists()


def test_preview_uses_the_tier_of_a_member_code(staff_client, brand, member):
    gold = Tier.objects.create(brand=brand, code="gold", name="Gold", rank=1, earn_multiplier=Decimal("2"))
    MemberTier.objects.create(member=member, brand=brand, tier=gold)
    response = preview(staff_client, brand, total="100", member_code=member.code.lower())
    assert response.context["results"][0].points == 8
    assert "Tier Gold earns ×2: +4 points." in response.content.decode()
    unknown = preview(staff_client, brand, total="100", member_code="NOPE1234")
    assert "member_code" in unknown.context["form"].errors


def test_staff_of_one_brand_cannot_preview_with_another_brands_branch_or_brand(staff_client, brand, other_brand):
    other_branch = other_brand.branches.get(code="MAIN")
    response = preview(staff_client, brand, total="100", branch=other_branch.pk)
    assert "branch" in response.context["form"].errors
    assert response.context["results"] is None
    response = preview(staff_client, other_brand, total="100", branch="")
    assert "brand" in response.context["form"].errors
    page = staff_client.get(reverse(PREVIEW)).content.decode()
    assert "Other brand" not in page


def test_a_two_brand_manager_cannot_mix_one_brands_branch_with_the_other(two_brand_client, brand, other_brand):
    response = preview(two_brand_client, brand, total="100", branch=other_brand.branches.get().pk)
    assert response.context["form"].errors["branch"] == ["Choose one of the brand's own."]


def test_preview_refuses_a_malformed_line(staff_client, brand):
    response = preview(staff_client, brand, lines="LATTE,coffee,two,130")
    assert response.context["form"].errors["lines"] == [
        "Row 1: the quantity must be a whole number and the amount a number."]


def test_rule_and_promotion_lists_explain_stacking_and_link_to_the_preview(staff_client):
    for name in ("earnrule", "promotion"):
        page = staff_client.get(reverse(f"admin:loyalty_{name}_changelist")).content.decode()
        assert reverse(PREVIEW) in page
        assert "How earn rules and promotions stack" in page
        assert "An exclusive promotion that gives points stops every promotion after it." in page


def promotion_form(brand, **changes):
    data = {"brand": brand.pk, "currency": brand.currencies.get().pk, "name": "Friday nights", "kind": "bill_bonus",
            "multiplier": "2", "bonus_points": "50", "minimum_bill": "0", "skus": "", "categories": "",
            "starts_at_0": "2026-03-01", "starts_at_1": "00:00", "ends_at_0": "2026-04-01", "ends_at_1": "00:00",
            "weekdays": ["4", "5"], "time_from": "22:00", "time_until": "02:00", "channels": ["pos", "cashier"],
            "priority": "100", "cap_period": "promotion", "is_active": "on"}
    data.update(changes)
    return data


def test_promotion_form_stores_weekday_and_channel_checkboxes(staff_client, brand):
    response = staff_client.post(reverse("admin:loyalty_promotion_add"), promotion_form(brand))
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Promotion.objects.get()
    assert (saved.weekdays, saved.channels, saved.channel_set) == ("45", "cashier,pos", {"pos", "cashier"})
    page = staff_client.get(reverse("admin:loyalty_promotion_change", args=[saved.pk])).content.decode()
    assert 'value="4" id="id_weekdays_4" checked' in page.replace('name="weekdays" ', "")


def test_promotion_form_refuses_a_tier_or_branch_of_another_brand(two_brand_client, brand, other_brand):
    their_tier = Tier.objects.create(brand=other_brand, code="gold", name="Gold", rank=1)
    their_branch = other_brand.branches.get()
    response = two_brand_client.post(reverse("admin:loyalty_promotion_add"),
                                     promotion_form(brand, tiers=[their_tier.pk], branches=[their_branch.pk]))
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"tiers", "branches"}
    assert not Promotion.objects.exists()


def test_promotion_form_offers_only_the_staff_brands_tiers(staff_client, brand, other_brand):
    Tier.objects.create(brand=brand, code="gold", name="Acme-Gold", rank=1)
    Tier.objects.create(brand=other_brand, code="gold", name="Secret-Gold", rank=1)
    page = staff_client.get(reverse("admin:loyalty_promotion_add")).content.decode()
    assert "Acme-Gold" in page and "Secret-Gold" not in page


def test_earn_rule_form_refuses_a_branch_of_another_brand(two_brand_client, brand, other_brand):
    body = {"brand": brand.pk, "currency": brand.currencies.get().pk, "name": "Silom", "spend_amount": "10",
            "points": 1, "minimum_spend": "0", "branch": Branch.objects.get(brand=other_brand).pk}
    response = two_brand_client.post(reverse("admin:loyalty_earnrule_add"), body)
    assert "branch" in response.context["adminform"].form.errors
    assert EarnRule.objects.count() == 2  # the two brands' base rules


def test_earn_policy_admin_saves_rounding_for_the_brand(staff_client, brand):
    response = staff_client.post(reverse("admin:loyalty_earnpolicy_add"), {
        "brand": brand.pk, "rounding": "half_up", "rounding_scope": "line", "bonus_cap_per_bill": "100"})
    assert response.status_code == 302
    assert (brand.earn_policy.rounding, brand.earn_policy.rounding_scope, brand.earn_policy.bonus_cap_per_bill) == (
        "half_up", "line", 100)


def test_promotion_awards_are_read_only_and_brand_scoped(staff_client, brand, other_brand):
    from loyalty.services.earning import LineInput, purchase_record

    for current in (brand, other_brand):
        make_promotion(current, name=f"Bonus of {current.slug}")
        buyer = factories.MemberFactory(brand=current)
        purchase_record(brand=current, member=buyer, channel="pos", order_id="A-1", total=Decimal("100"),
                        lines=[LineInput(amount=Decimal("100"))], purchased_at=datetime(2026, 3, 2, tzinfo=BANGKOK))
    page = staff_client.get(reverse("admin:loyalty_promotionaward_changelist")).content.decode()
    assert "Bonus of acme" in page and "Bonus of other" not in page
    award = PromotionAward.objects.get(promotion__brand=brand)
    assert staff_client.post(reverse("admin:loyalty_promotionaward_change", args=[award.pk]), {}).status_code == 403


def test_earn_rule_form_accepts_a_currency_shared_with_the_brand(staff_client, brand, other_brand):
    group = other_brand.currencies.get()
    body = {"brand": brand.pk, "currency": group.pk, "name": "Group", "spend_amount": "100", "points": 1,
            "minimum_spend": "0", "is_active": "on"}
    refused = staff_client.post(reverse("admin:loyalty_earnrule_add"), body)
    assert "currency" in refused.context["adminform"].form.errors
    group.shared_with.add(brand)
    assert staff_client.post(reverse("admin:loyalty_earnrule_add"), body).status_code == 302
    assert EarnRule.objects.filter(brand=brand, currency=group).exists()
