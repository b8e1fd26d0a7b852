"""PDPA in the portal, in a phone-sized Chromium (LIFF mock): re-consent to a new version, then the privacy centre.

Publishing version 2 of the (required) terms sends the member to the consent page before
anything else; once accepted they reach the card. From the profile, the privacy centre shows
every document with its version, status and history, and withdrawing marketing consent
takes effect at once (the next marketing send skips the member).
"""

import re

from playwright.sync_api import expect

from consent.models import ConsentRecord, ConsentVersion
from consent.selectors import consent_status, marketing_consented_member_ids
from consent.services import consent_version_publish
from tests.browser.portal_helpers import liff_sign_in, shot
from tests.browser.test_portal import (  # noqa: F401 - fixtures shared with the portal tests
    MEMBER_USER,
    _portal_settings,
    consents,
    make_active_member,
    phone,
    portal_brand,
)


def test_a_new_terms_version_is_accepted_first_then_marketing_is_withdrawn_in_the_privacy_centre(
        phone, fake_line, portal_brand, consents):  # noqa: F811 - the shared fixtures
    member = make_active_member(portal_brand, consents, language="en")
    terms_v2 = consent_version_publish(version=ConsentVersion.objects.create(
        document=consents["terms"].document, version=2, content_th="ข้อกำหนดฉบับใหม่",
        content_en="New terms: points now expire after 12 months."))
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)  # asked for the card
    expect(page).to_have_url(re.compile(r"/liff/cafe/consents/$"))
    expect(page.locator(".consent-text")).to_have_text("New terms: points now expire after 12 months.")
    expect(page.locator("input[name=consents]")).to_have_count(1)  # only what changed is asked
    shot(page, "reconsent")

    page.get_by_role("button", name="Continue").click()  # not ticked: refused, still on the page
    expect(page.locator(".alert")).to_have_text("Please accept the required documents to continue.")
    page.goto(f"/liff/{portal_brand.slug}/points/")  # any other page sends the member back
    expect(page).to_have_url(re.compile(r"/liff/cafe/consents/$"))

    page.check(f"input[name=consents][value='{terms_v2.pk}']")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/card/$"))
    expect(page.locator("#member-qr svg")).to_be_visible()
    record = ConsentRecord.objects.filter(member=member).first()
    assert (record.version_id, record.granted, record.channel) == (terms_v2.pk, True, "liff")
    assert "Line/14.10.0" in record.user_agent

    page.get_by_role("link", name="Profile").click()
    page.get_by_test_id("privacy-link").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/privacy/$"))
    terms = page.get_by_test_id(f"consent-terms-{consents['terms'].document_id}")
    expect(terms).to_contain_text("Version 2, in effect from")
    expect(terms.get_by_test_id("consent-status")).to_contain_text("Granted")
    expect(terms.locator("ul.entries li")).to_have_count(2)  # v2 and v1
    marketing = page.get_by_test_id(f"consent-marketing-{consents['marketing'].document_id}")
    expect(marketing.get_by_test_id("consent-status")).to_contain_text("Granted")
    shot(page, "privacy-centre")

    marketing.get_by_test_id("withdraw-marketing").click()
    expect(page.get_by_test_id("consent-saved")).to_contain_text("Your consent is withdrawn")
    marketing = page.get_by_test_id(f"consent-marketing-{consents['marketing'].document_id}")
    expect(marketing.get_by_test_id("consent-status")).to_contain_text("Withdrawn")
    expect(marketing.get_by_test_id("grant-marketing")).to_be_visible()
    shot(page, "privacy-centre-withdrawn")
    assert consent_status(member=member)[consents["marketing"].document_id] is False
    assert marketing_consented_member_ids(brand=portal_brand, member_ids=[member.pk]) == set()

    page.get_by_test_id("my-data-link").click()
    with page.expect_download() as download_info:
        page.get_by_test_id("download-my-data").click()
    assert download_info.value.suggested_filename.endswith(".json")
    assert phone.outside_requests == []
    assert [error.split(" ")[0] for error in phone.error_responses] == ["400"]  # the refused "Continue" only
