"""The missions page in a phone-sized Chromium (LIFF mock): progress after purchases, then completion."""

import re

from playwright.sync_api import expect

from campaigns.missions.models import Objective
from loyalty.models import LedgerEntry
from loyalty.services.verification import ledger_mismatches
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

from .conftest import buy, make_mission

Kind = Objective.Kind


def test_the_missions_page_shows_progress_after_purchases_and_the_completion(
        phone, fake_line, portal_brand, consents):  # noqa: F811 - the shared fixtures
    mission = make_mission(portal_brand, [(Kind.SPEND, 500), (Kind.PURCHASES, 3)], points=50,
                           name="ช้อปครบ 500 บาท", name_en="Spend 500 this week")
    member = make_active_member(portal_brand, consents, language="en")
    buy(member, 120)
    buy(member, 180)
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="missions/")
    card = page.get_by_test_id(f"mission-{mission.pk}")
    expect(card).to_contain_text("Spend 500 this week")
    expect(card.get_by_test_id("objective-spend")).to_contain_text("Spend 500 THB")
    expect(card.get_by_test_id("objective-spend").get_by_test_id("objective-value")).to_have_text("300 / 500")
    expect(card.get_by_role("progressbar", name="Spend 500 THB")).to_have_attribute("aria-valuenow", "60")
    expect(card.get_by_test_id("objective-purchases").get_by_test_id("objective-value")).to_have_text("2 / 3")
    expect(card.get_by_test_id("mission-time-left")).to_have_text(re.compile(r"^6 days left$"))
    expect(card.get_by_test_id("mission-completed")).to_have_count(0)
    shot(page, "missions-progress")

    buy(member, 250)
    page.reload()
    expect(card.get_by_test_id("mission-completed")).to_have_text("Completed")
    expect(card.get_by_test_id("objective-spend").get_by_test_id("objective-value")).to_have_text("500 / 500")
    shot(page, "missions-completed")
    assert LedgerEntry.objects.filter(idempotency_key=f"mission:{mission.pk}:{member.pk}:1", amount=50).exists()

    card.get_by_role("link", name="Spend 500 this week").click()
    expect(page).to_have_url(re.compile(rf"/liff/cafe/missions/{mission.pk}/$"))
    expect(page.get_by_test_id("mission-detail")).to_contain_text("Times you completed this mission: 1")
    assert ledger_mismatches() == []
    assert_stayed_local(phone)
