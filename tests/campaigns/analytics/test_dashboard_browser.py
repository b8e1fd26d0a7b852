"""In headless Chromium: the dashboard renders its KPIs and every chart (canvas drawn, not blank)."""

import re
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from loyalty.models import MemberTier, Tier
from loyalty.services.earning import LineInput, purchase_record
from tests import factories

PASSWORD = "pw-for-tests"  # tests.factories.staff_user


def test_dashboard_page_draws_its_charts(browser, db):
    brand = factories.brand_with_program("acme", "Acme Coffee")
    now = timezone.now()
    for i in range(3):
        member = factories.MemberFactory(brand=brand, registered_at=now)
        for j in range(i + 1):
            purchase_record(brand=brand, member=member, channel="pos", order_id=f"O-{i}-{j}", total=Decimal("250"),
                            lines=[LineInput(amount=Decimal("250"))], purchased_at=now, branch=brand.branches.get())
    silver = Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1, threshold=0,
                                 earn_multiplier=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", name_en="Gold", rank=2, threshold=1000,
                               earn_multiplier=1, color="#d4af37")
    for member, tier in zip(brand.members.order_by("pk"), (silver, silver, gold), strict=True):
        MemberTier.objects.update_or_create(member=member, defaults={"brand": brand, "tier": tier})
    staff = factories.staff_user(brands=[brand], username="dash-manager")
    page = browser.page
    page.goto("/admin/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.locator("#content-main a[href='/admin/analytics/dashboard/']").first.click()  # the admin index entry
    expect(page).to_have_url(re.compile(r"/admin/analytics/dashboard/"))
    expect(page.locator("body[data-charts-rendered='1']")).to_have_count(1)
    expect(page.locator("tr[data-kpi='active_members'] .value")).to_have_text("3")
    expect(page.locator("tr[data-kpi='repeat_rate'] .value")).to_have_text("66.67 %")
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() == 5  # RFM: not computed yet
    for i in range(canvases.count()):
        canvas = canvases.nth(i)
        assert canvas.get_attribute("data-rendered") == "1"
        # drawn: some pixel is not transparent
        painted = canvas.evaluate("""c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                            for (let k = 3; k < d.length; k += 4) if (d[k]) return true; return false; }""")
        assert painted, canvas.get_attribute("data-chart")
    expect(page.locator("#rfm-not-computed")).to_be_visible()
    browser.screenshot("dashboard")
