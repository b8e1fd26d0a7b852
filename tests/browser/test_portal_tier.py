"""The portal's tier page and the tier card on the member card, in a phone-sized Chromium (LIFF mock)."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import expect

from loyalty.models import MemberTier, Purchase, Tier, TierProgram
from tests import factories
from tests.browser.portal_helpers import liff_sign_in, shot
from tests.browser.test_portal import (  # noqa: F401 - fixtures shared with the portal tests
    MEMBER_USER,
    _portal_settings,
    assert_stayed_local,
    consents,
    make_active_member,
    phone,
    portal_brand,
)

BKK = ZoneInfo("Asia/Bangkok")


def test_the_tier_page_shows_the_tier_what_the_next_needs_and_the_benefits(
        phone, fake_line, portal_brand, consents):  # noqa: F811 - the shared fixtures
    TierProgram.objects.create(brand=portal_brand, metric="spend", period="calendar_year")
    silver = Tier.objects.create(brand=portal_brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1,
                                 benefits_en="Members' prices")
    gold = Tier.objects.create(brand=portal_brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                               threshold=Decimal("10000"), earn_multiplier=Decimal("1.5"), birthday_bonus=200,
                               color="#b8860b", benefits_en="Free upsize every visit")
    member = make_active_member(portal_brand, consents, language="en")
    now = timezone.now()
    year = timezone.localtime(now, BKK).year
    Purchase.objects.create(brand=portal_brand, member=member, channel="pos", order_id="P-1",
                            total=Decimal("6800.00"), purchased_at=now)
    MemberTier.objects.create(member=member, brand=portal_brand, tier=silver,
                              qualified_until=datetime(year + 2, 1, 1, tzinfo=BKK))
    factories.RewardFactory(brand=portal_brand, name="Gold lounge", points_cost=10, min_tier=gold)
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)
    expect(page.get_by_test_id("tier-card-name")).to_have_text("Silver")
    expect(page.get_by_test_id("tier-card")).to_contain_text(
        f"Spend 3,200 THB more by 31 Dec {year} to reach Gold.")
    page.get_by_role("link", name="Tiers and benefits").click()

    expect(page).to_have_url(re.compile(r"/liff/cafe/tier/$"))
    expect(page.get_by_test_id("tier-name")).to_have_text("Silver")
    expect(page.get_by_test_id("tier-next")).to_have_text(f"Spend 3,200 THB more by 31 Dec {year} to reach Gold.")
    expect(page.get_by_test_id("tier-review")).to_have_text(f"Your tier is reviewed on 1 Jan {year + 2}.")
    expect(page.get_by_test_id("tier-silver")).to_have_attribute("aria-current", "true")
    gold_card = page.get_by_test_id("tier-gold")
    expect(gold_card).to_contain_text("Spend 10,000 THB in a period")
    expect(gold_card).to_contain_text("×1.5 points on every purchase")
    expect(gold_card).to_contain_text("200 bonus points on your birthday")
    expect(gold_card).to_contain_text("Free upsize every visit")
    shot(page, "tier")

    page.goto(f"/liff/{portal_brand.slug}/rewards/")
    expect(page.get_by_test_id("tier-locked")).to_have_text("For Gold members and above")
    assert_stayed_local(phone)
