"""In a real browser: staff preview a sample bill against the earn rules and promotions."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from loyalty.models import EarnRule, LedgerEntry, Promotion, PromotionAward, Purchase
from tests import factories
from tests.browser.test_admin_adjust_points import admin_login

BANGKOK = ZoneInfo("Asia/Bangkok")


def test_staff_preview_a_bill_and_see_points_and_why(browser, brand):
    staff = factories.staff_user(brands=[brand], username="promo-manager")
    currency = brand.currencies.get()
    EarnRule.objects.create(brand=brand, currency=currency, category="coffee", spend_amount=Decimal("20"), points=1)
    Promotion.objects.create(
        brand=brand, currency=currency, name="Double Monday", kind=Promotion.Kind.MULTIPLIER,
        multiplier=Decimal("2"), weekdays="0", is_active=False,
        starts_at=datetime(2026, 3, 1, tzinfo=BANGKOK), ends_at=datetime(2026, 4, 1, tzinfo=BANGKOK),
    )
    page = browser.page

    admin_login(browser, staff.username)
    page.goto("/admin/loyalty/promotion/")
    expect(page.get_by_test_id("earn-stacking")).to_contain_text("An exclusive promotion that gives points")
    page.get_by_test_id("earn-preview-link").click()
    expect(page).to_have_url(re.compile(r"/admin/loyalty/earnrule/preview/$"))

    page.select_option("#id_branch", label=str(brand.branches.get()))
    page.select_option("#id_channel", "pos")
    page.fill("#id_at", "2026-03-02T12:00")
    page.fill("#id_lines", "LATTE,coffee,2,130\nCAKE,bakery,1,95")
    page.click("input[type=submit][value='Show points']")

    # 130/20 = 6.5 and 95/25 = 3.8: 10.3, rounded down once on the bill.
    expect(page.get_by_test_id("earn-points-points")).to_have_text("10")
    results = page.get_by_test_id("earn-preview-results")
    expect(results).to_contain_text("Line 1 (LATTE, coffee, ×2, 130.00 THB): rule 20.00 THB = 1 (coffee)")
    expect(results).to_contain_text("Rounding (Round down) on the bill: 10.3 → 10 base points.")
    browser.screenshot("preview-inactive-excluded")

    page.check("#id_include_inactive")
    page.click("input[type=submit][value='Show points']")
    expect(page.get_by_test_id("earn-points-points")).to_have_text("20")
    expect(results).to_contain_text("Promotion “Double Monday”: +10 points (×2 on 10 base points).")
    browser.screenshot("preview-with-promotion")

    assert not Purchase.objects.exists() and not LedgerEntry.objects.exists() and not PromotionAward.objects.exists()
    assert browser.outside_requests == []
    assert browser.error_responses == []
