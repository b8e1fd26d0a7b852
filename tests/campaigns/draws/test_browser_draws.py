"""Buying lucky-draw tickets in a phone-sized Chromium signed in through LIFF (mock SDK), as in tests/browser.

Screenshots: ``test-artifacts/browser/portal-draw-*.png``.
"""

import re

from playwright.sync_api import expect

from campaigns.draws.models import DrawEntry
from loyalty.models import LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
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

from .conftest import make_draw


def test_a_member_buys_tickets_with_points_and_sees_the_committed_hash(
        phone, fake_line, portal_brand, consents):  # noqa: F811 - the shared fixtures
    member = make_active_member(portal_brand, consents, language="en")
    factories.give_points(member, 350, key="test:browser")
    draw = make_draw(portal_brand, max_tickets=5, prizes=[("ทองคำ", "Gold bar", 1, None, 1000),
                                                          ("บัตรกำนัล", "Voucher", 3, None, 200)])
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="draws/")
    expect(page.get_by_test_id(f"draw-{draw.pk}")).to_contain_text("New Year lucky draw")
    expect(page.get_by_test_id(f"draw-{draw.pk}-tickets")).to_have_text("My tickets: 0")
    page.get_by_role("link", name="Take part").click()

    expect(page).to_have_url(re.compile(rf"/liff/cafe/draws/{draw.pk}/$"))
    expect(page.get_by_test_id("seed-hash")).to_have_text(draw.seed_hash)
    expect(page.get_by_test_id("prizes")).to_contain_text("Gold bar")
    expect(page.get_by_test_id("limit")).to_have_text("Tickets you can still buy: 5")
    expect(page.get_by_test_id("my-tickets")).to_have_text("0")
    page.get_by_label("Tickets").fill("3")
    shot(page, "draw-buy")
    page.get_by_test_id("buy").click()

    expect(page.get_by_test_id("bought")).to_have_text("Tickets bought: 3. Good luck!")
    expect(page.get_by_test_id("my-tickets")).to_have_text("3")
    expect(page.get_by_test_id("limit")).to_have_text("Tickets you can still buy: 2")
    expect(page.get_by_test_id("not-enough")).to_have_text("Not enough points")  # 50 points left, 100 a ticket
    shot(page, "draw-bought")

    assert DrawEntry.objects.get(draw=draw, member=member).tickets == 3
    assert PointAccount.objects.get(member=member).balance == 50
    debit = LedgerEntry.objects.get(kind="redeem")
    assert (debit.channel, debit.amount) == ("campaign", -300)
    assert ledger_mismatches() == []
    assert_stayed_local(phone)
