"""The race leaderboard in a phone-sized Chromium signed in through LIFF (mock SDK), as in tests/browser.

Screenshots: ``test-artifacts/browser/portal-race-*.png``.
"""

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from campaigns.leaderboards.models import RacePrize
from loyalty.services.earning import purchase_record
from loyalty.services.ledger import Channel
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

from .conftest import make_race


def spend(member, total: str, order_id: str, at) -> None:
    purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                    total=Decimal(total), lines=[], purchased_at=at)


def test_the_leaderboard_shows_masked_names_the_members_rank_and_the_gap(
        phone, fake_line, portal_brand, consents):  # noqa: F811 - the shared fixtures
    now = timezone.now()
    race = make_race(portal_brand, starts_at=now - timedelta(days=3), ends_at=now + timedelta(days=4), top_n=2,
                     now=now)
    RacePrize.objects.create(race=race, rank_from=1, rank_to=1, points=1000)
    RacePrize.objects.create(race=race, rank_from=2, rank_to=2, points=300)
    somchai = factories.MemberFactory(brand=portal_brand, first_name="สมชาย")
    malee = factories.MemberFactory(brand=portal_brand, first_name="Malee")
    member = make_active_member(portal_brand, consents, language="en")
    spend(somchai, "2000.00", "S-1", now - timedelta(days=2))
    spend(malee, "1200.00", "M-1", now - timedelta(days=1))
    spend(member, "1050.00", "N-1", now - timedelta(hours=5))
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="races/")
    expect(page.get_by_test_id(f"race-{race.pk}")).to_contain_text("You are #3, 150.00 THB behind #2.")
    page.get_by_role("link", name="Top spender").click()

    expect(page).to_have_url(re.compile(rf"/liff/cafe/races/{race.pk}/$"))
    expect(page.get_by_test_id("race-position")).to_have_text("You are #3, 150.00 THB behind #2.")
    expect(page.get_by_test_id("race-row")).to_have_text(["#1 สมช*** 2,000.00 THB", "#2 Mal*** 1,200.00 THB"])
    expect(page.get_by_test_id("race-your-value")).to_have_text("Your total: 1,050.00 THB")
    expect(page.get_by_test_id("race-prizes")).to_contain_text("1,000 points")
    shot(page, "race-behind")

    spend(member, "1000.00", "N-2", now - timedelta(minutes=5))  # 2,050 THB: ahead of สมชาย
    page.reload()
    expect(page.get_by_test_id("race-position")).to_have_text("You are #1: you lead the race!")
    expect(page.get_by_test_id("race-row")).to_have_text(["#1 You 2,050.00 THB", "#2 สมช*** 2,000.00 THB"])
    expect(page.locator("[data-testid=race-row][aria-current=true]")).to_have_count(1)
    shot(page, "race-lead")

    page.goto(f"/liff/{portal_brand.slug}/races/{race.pk}/?lang=th")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    assert_stayed_local(phone)
