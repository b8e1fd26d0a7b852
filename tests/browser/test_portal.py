"""The LIFF member portal in a real browser, at phone size, signed in through LIFF (mock SDK).

The LINE app is played by ``@line/liff-mock`` (dist/liff-mock.js, served when
``settings.LIFF_MOCK`` is on): it hands the page an ID token that the project's fake LINE
server signed, and the server verifies it with that fake like any other. SMS codes go to
``members.sms.outbox``. Screenshots: ``test-artifacts/browser/portal-*.png``; page weights:
``test-artifacts/browser/page-weight.json``.
"""

import json
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consent.models import ConsentRecord
from consent.selectors import consent_status
from consent.services import consent_record
from loyalty.models import Coupon, PointAccount, Redemption
from loyalty.services.verification import ledger_mismatches
from members import sms
from members.models import Member, MemberChange, ProfileField
from members.services import member_line_login
from tests import factories
from tests.browser.portal_helpers import (
    api_post,
    card_token_at,
    card_token_shown,
    liff_sign_in,
    page_weight,
    page_weight_over_http,
    phone_session,
    shot,
)
from tests.browser_support import ARTIFACTS
from tests.liff.conftest import publish

LOGIN_CHANNEL = "1650000077"
NEW_USER = "U" + "1" * 32
MEMBER_USER = "U" + "2" * 32
WEIGHT_LIMIT = 150 * 1000  # bytes, gzip-compressed HTML + JS + CSS


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    settings.LIFF_MOCK = True
    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    sms.outbox.clear()


@pytest.fixture
def phone(browser, chromium, live_server):
    with phone_session(browser, chromium, live_server) as session:
        yield session


@pytest.fixture
def portal_brand(transactional_db):
    brand = factories.brand_with_program(slug="cafe", name="ร้านกาแฟบ้านสวน")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    return brand


@pytest.fixture
def consents(portal_brand):
    return {"terms": publish(portal_brand, "terms", True, "ข้อกำหนดการใช้งาน", "ข้อกำหนด\nการใช้งานบัตรสมาชิก"),
            "privacy": publish(portal_brand, "privacy", True, "นโยบายความเป็นส่วนตัว", "เราเก็บข้อมูลของคุณ"),
            "marketing": publish(portal_brand, "marketing", False, "รับข่าวสารการตลาด", "โปรโมชันทาง LINE")}


def make_active_member(brand, consents, *, language="en", line_user_id=MEMBER_USER) -> Member:
    """A registered member (LINE user, phone, every consent granted), as registration leaves one."""
    member = member_line_login(brand=brand, line_user_id=line_user_id, display_name="Nok")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, first_name="Nok", last_name="Dee",
                                               phone="+66812223344", language=language,
                                               registered_at=timezone.now())
    member.refresh_from_db()
    for version in consents.values():
        consent_record(member=member, version=version, granted=True, channel="liff")
    return member


def assert_stayed_local(session) -> None:
    assert session.outside_requests == []
    assert session.error_responses == []


# --- 1. registration -------------------------------------------------------------------------


def test_a_new_line_user_registers_with_an_sms_code_custom_fields_and_consents(phone, fake_line, portal_brand,
                                                                               consents):
    ProfileField.objects.create(
        brand=portal_brand, key="interests", label_th="ความสนใจ", label_en="Interests", kind="multi_choice",
        required=True, choices=[{"value": "coffee", "th": "กาแฟ", "en": "Coffee"},
                                {"value": "cake", "th": "เค้ก", "en": "Cake"},
                                {"value": "tea", "th": "ชา", "en": "Tea"}])
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, NEW_USER)  # the ID-token session creates a pending member
    expect(page).to_have_url(re.compile(r"/liff/cafe/register/$"))
    assert Member.objects.get(brand=portal_brand, line_user_id=NEW_USER).status == Member.Status.PENDING
    expect(page.locator("main h2")).to_have_text("สมัครเป็นสมาชิก")  # Thai by default
    expect(page.locator("nav.tabs")).to_have_count(0)  # no member menu before registration
    shot(page, "register")

    page.fill("#first_name", "มาลี")
    page.fill("#last_name", "ศรีสุข")
    page.fill("#phone", "081-555-0001")
    page.click("button[name=action][value=send_code]")
    expect(page.locator(".notice")).to_contain_text("+66815550001")
    # The SMS is sent on commit; the live server's request has committed before it answered.
    assert len(sms.outbox) == 1
    sent_to, text = sms.outbox[0]
    assert sent_to == "+66815550001"
    code = re.search(r"\b(\d{6})\b", text).group(1)
    expect(page.locator("#first_name")).to_have_value("มาลี")  # what was typed survives the round trip
    expect(page.locator("#phone")).to_have_value("+66815550001")
    shot(page, "register-code-sent")

    page.fill("#code", code)
    page.fill("#birth_date", "1995-04-01")
    page.select_option("#gender", "female")
    page.check("input[name=custom_interests][value=coffee]")
    page.check("input[name=custom_interests][value=cake]")
    page.check(f"input[name=consents][value='{consents['terms'].pk}']")
    page.check(f"input[name=consents][value='{consents['privacy'].pk}']")
    shot(page, "register-filled")
    page.click("button[name=action][value=register]")

    expect(page).to_have_url(re.compile(r"/liff/cafe/card/\?welcome=1$"))
    expect(page.locator(".notice")).to_have_text("ยินดีต้อนรับ! คุณเป็นสมาชิกแล้ว")
    expect(page.locator("#member-qr svg")).to_be_visible()
    expect(page.locator("nav.tabs a")).to_have_count(5)
    shot(page, "card-welcome")

    member = Member.objects.get(brand=portal_brand, line_user_id=NEW_USER)
    assert (member.status, member.phone, member.first_name, member.last_name) == (
        Member.Status.ACTIVE, "+66815550001", "มาลี", "ศรีสุข")
    assert (str(member.birth_date), member.gender) == ("1995-04-01", "female")
    assert member.custom_fields == {"interests": ["cake", "coffee"]}
    status = consent_status(member=member)
    assert status[consents["terms"].document_id] and status[consents["privacy"].document_id]
    assert not status[consents["marketing"].document_id]  # shown, not ticked: recorded as declined
    assert ConsentRecord.objects.filter(member=member).count() == 3
    assert len(sms.outbox) == 1
    assert_stayed_local(phone)


# --- 2. the member card and its QR ----------------------------------------------------------


def test_the_card_qr_refreshes_in_place_without_moving_or_resizing(phone, fake_line, portal_brand, consents):
    member = make_active_member(portal_brand, consents, language="th")
    factories.give_points(member, 240, key="opening")
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)
    expect(page).to_have_url(re.compile(r"/liff/cafe/card/$"))
    card = page.locator("section.member-card")
    expect(card).to_contain_text("Nok Dee")
    expect(page.get_by_test_id("balance-points")).to_have_text("240")
    expect(page.get_by_test_id("member-code")).to_have_text(member.code)
    qr = page.locator("#member-qr")
    expect(qr.locator("svg")).to_be_visible()
    assert qr.locator("svg path").count() == 1
    shot(page, "card")

    box_before = qr.bounding_box()
    code_before = page.get_by_test_id("member-code").bounding_box()
    path_before = qr.locator("svg path").get_attribute("d")
    assert box_before["width"] >= 200 and abs(box_before["width"] - box_before["height"]) < 1
    # Watch for layout shifts from now on, then make the card refresh its QR after 1 second.
    assert page.evaluate("PerformanceObserver.supportedEntryTypes.includes('layout-shift')")
    page.evaluate("""url => {
        window.__shifts = [];
        new PerformanceObserver(list => { for (const e of list.getEntries()) window.__shifts.push(e.value); })
            .observe({type: 'layout-shift'});
        window.__stopQr = TaemPortal.startQrRefresh('#member-qr', url, 1);
    }""", f"/liff/{portal_brand.slug}/card/qr/")
    page.wait_for_function("old => document.querySelector('#member-qr svg path').getAttribute('d') !== old",
                           arg=path_before, timeout=5_000)
    page.evaluate("window.__stopQr()")
    page.wait_for_timeout(100)  # let any layout shift be reported

    assert qr.bounding_box() == box_before
    assert page.get_by_test_id("member-code").bounding_box() == code_before
    assert page.evaluate("window.__shifts") == []
    assert qr.locator("svg").count() == 1
    shot(page, "card-refreshed")
    assert_stayed_local(phone)


def test_the_cards_qr_token_is_accepted_by_the_pos_api_and_tampered_or_expired_ones_are_refused(
        phone, fake_line, portal_brand, consents, live_server):
    member = make_active_member(portal_brand, consents)
    page = phone.page
    _key, raw_key = factories.api_key(brand=portal_brand)
    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)

    started = time.time()
    page.goto(f"/liff/{portal_brand.slug}/card/")
    finished = time.time()
    shown = page.locator("#member-qr svg path").get_attribute("d")
    token = card_token_shown(member, shown, range(int(started) - 1, int(finished) + 2))
    assert token is not None, "the card's QR is not a card token for this member made while the page loaded"

    # The refresh endpoint gives the page a new QR image only; the token itself is not in its JSON.
    fresh = page.evaluate("url => fetch(url, {headers: {Accept: 'application/json'}}).then(r => r.json())",
                          f"/liff/{portal_brand.slug}/card/qr/")
    assert set(fresh) == {"svg", "expires_in"} and fresh["expires_in"] == 60
    assert fresh["svg"].startswith("<svg") and member.code not in fresh["svg"]

    verify = "/api/v1/member-cards/verify/"
    status, body = api_post(live_server.url, verify, {"token": token}, api_key=raw_key)
    assert status == 200 and body["code"] == member.code, body

    value, _sep, signature = token.rpartition(":")
    tampered = f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    other_member = token.replace(f".{member.pk}:", f".{member.pk + 1}:")
    for bad in (tampered, other_member, token + "x"):
        status, body = api_post(live_server.url, verify, {"token": bad}, api_key=raw_key)
        assert (status, body["error"]["code"]) == (422, "card_invalid"), (bad, body)

    expired = card_token_at(member, int(time.time()) - 5 * 60)  # a screenshot of the card 5 minutes ago
    status, body = api_post(live_server.url, verify, {"token": expired}, api_key=raw_key)
    assert (status, body["error"]["code"]) == (422, "card_expired"), body
    still_valid = card_token_at(member, int(time.time()) - 60)  # a slow scan of the previous code
    assert api_post(live_server.url, verify, {"token": still_valid}, api_key=raw_key)[0] == 200
    assert_stayed_local(phone)


# --- 3. rewards and coupons -----------------------------------------------------------------


def test_redeeming_a_reward_asks_for_confirmation_and_shows_the_coupon_with_its_qr(
        phone, fake_line, portal_brand, consents):
    member = make_active_member(portal_brand, consents)
    cookie = factories.RewardFactory(brand=portal_brand, name="คุกกี้", name_en="Cookie", points_cost=50, stock=3)
    mug = factories.RewardFactory(brand=portal_brand, name="แก้วมัค", name_en="Mug", points_cost=500)
    factories.give_points(member, 120, key="seed")
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="rewards/")
    affordable, expensive = page.get_by_test_id(f"reward-{cookie.pk}"), page.get_by_test_id(f"reward-{mug.pk}")
    expect(affordable).to_contain_text("Cookie")
    expect(affordable.get_by_role("link", name="Redeem")).to_be_visible()
    expect(expensive).to_contain_text("Mug")
    expect(expensive.locator("[aria-disabled=true]")).to_have_text("Not enough points")
    expect(expensive.get_by_role("link")).to_have_count(0)
    shot(page, "rewards")

    affordable.get_by_role("link", name="Redeem").click()
    expect(page).to_have_url(re.compile(rf"/rewards/{cookie.pk}/redeem/$"))
    expect(page.locator("main")).to_contain_text("It costs 50 points. You have 120 points.")
    assert Redemption.objects.count() == 0  # opening the confirmation redeems nothing
    shot(page, "redeem-confirm")
    page.get_by_role("button", name="Yes, redeem").click()

    coupon = Coupon.objects.get(member=member)
    expect(page).to_have_url(re.compile(rf"/liff/cafe/coupons/\?new={coupon.code}$"))
    shown = page.get_by_test_id(f"coupon-{coupon.code}")
    expect(shown.locator(".notice")).to_be_visible()
    expect(shown.locator(".coupon-qr svg")).to_be_visible()
    expect(shown.locator(".code")).to_have_text(coupon.display_code)
    shot(page, "coupons")
    assert Redemption.objects.filter(member=member).count() == 1
    assert PointAccount.objects.get(member=member).balance == 70

    expect(page.locator("article[data-testid^=coupon-]")).to_have_count(1)
    assert ledger_mismatches() == []
    assert_stayed_local(phone)


def test_back_and_yes_redeem_again_does_not_redeem_twice(phone, fake_line, portal_brand, consents):
    member = make_active_member(portal_brand, consents)
    cookie = factories.RewardFactory(brand=portal_brand, name="คุกกี้", name_en="Cookie", points_cost=50)
    factories.give_points(member, 120, key="seed")
    page = phone.page
    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="rewards/")
    page.get_by_test_id(f"reward-{cookie.pk}").get_by_role("link", name="Redeem").click()
    first_request_id = page.locator("input[name=request_id]").input_value()
    page.get_by_role("button", name="Yes, redeem").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/coupons/\?new="))

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/rewards/{cookie.pk}/redeem/$"))
    # The re-fetched page says it was just redeemed and offers no confirm button.
    expect(page.get_by_test_id("recently-redeemed")).to_be_visible()
    expect(page.get_by_role("button", name="Yes, redeem")).to_have_count(0)
    shot(page, "redeem-after-back")
    assert Redemption.objects.filter(member=member).count() == 1
    assert first_request_id
    # Redeeming another is an explicit choice.
    page.get_by_role("link", name="Redeem another one").click()
    expect(page.get_by_role("button", name="Yes, redeem")).to_be_visible()
    assert_stayed_local(phone)


# --- 4. points -------------------------------------------------------------------------------


def test_points_page_shows_the_balance_paginated_history_and_points_expiring_soon(phone, fake_line, portal_brand,
                                                                                   consents):
    member = make_active_member(portal_brand, consents)
    now = timezone.now()
    factories.give_points(member, 30, key="soon", expires_at=now + timedelta(days=5))
    factories.give_points(member, 70, key="later", expires_at=now + timedelta(days=300))
    for n in range(20):
        factories.give_points(member, 1, key=f"visit-{n}", expires_at=now + timedelta(days=300))
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="points/")
    expect(page.locator("section.card .big").first).to_have_text("120")
    soon = (now + timedelta(days=5)).astimezone(timezone.get_default_timezone())
    expect(page.get_by_test_id("expiring")).to_have_text(f"30 points expire on {soon.day} {soon:%b %Y}")
    rows = page.locator("ul.entries li")
    expect(rows).to_have_count(20)  # newest first, 20 a page
    expect(rows.first).to_contain_text("+1")
    shot(page, "points")

    page.get_by_role("link", name="Older").click()
    expect(page).to_have_url(re.compile(r"/points/\?page=2$"))
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("+70")
    expect(rows.nth(1)).to_contain_text("+30")
    expect(page.get_by_role("link", name="Newer")).to_be_visible()
    shot(page, "points-page-2")
    assert_stayed_local(phone)


# --- 5. profile ------------------------------------------------------------------------------


def test_profile_edits_apply_at_once_and_are_audited(phone, fake_line, portal_brand, consents):
    ProfileField.objects.create(brand=portal_brand, key="channel", label_th="ช่องทางที่สะดวก",
                                label_en="Preferred channel", kind="choice",
                                choices=[{"value": "line", "th": "LINE", "en": "LINE"},
                                         {"value": "email", "th": "อีเมล", "en": "E-mail"}])
    member = make_active_member(portal_brand, consents)
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="profile/")
    expect(page.locator("#first_name")).to_have_value("Nok")
    expect(page.locator("label[for=custom_channel]")).to_have_text("Preferred channel")
    shot(page, "profile")
    page.fill("#first_name", "Noknoi")
    page.select_option("#custom_channel", "line")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".notice")).to_have_text("Saved.")
    expect(page.locator("#first_name")).to_have_value("Noknoi")
    expect(page.locator("#custom_channel")).to_have_value("line")
    shot(page, "profile-saved")
    member.refresh_from_db()
    assert (member.first_name, member.custom_fields) == ("Noknoi", {"channel": "line"})
    changes = {change.field: change for change in MemberChange.objects.filter(member=member)}
    assert {"first_name", "custom:channel"} <= set(changes)
    first_name = changes["first_name"]
    assert (first_name.old_value, first_name.new_value, first_name.channel, first_name.changed_by_id) == (
        "Nok", "Noknoi", "liff", member.user_id)
    page.goto(f"/liff/{portal_brand.slug}/card/")
    expect(page.locator("section.member-card")).to_contain_text("Noknoi Dee")
    assert_stayed_local(phone)


# --- 6. language -----------------------------------------------------------------------------


def test_the_language_link_switches_the_portal_between_thai_and_english(phone, fake_line, portal_brand, consents):
    member = make_active_member(portal_brand, consents, language="th")
    page = phone.page
    nav = page.locator("nav.tabs")

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)
    expect(nav.locator("a").first).to_have_text("บัตร")
    expect(nav.locator("a[aria-current=page]")).to_have_text("บัตร")

    page.locator("header .lang a").click()  # "EN"
    expect(page).to_have_url(re.compile(r"/card/\?lang=en$"))
    expect(nav.locator("a")).to_have_text(["Card", "Points", "Rewards", "Coupons", "Profile"])
    expect(page.locator("header .lang a")).to_have_text("ไทย")
    shot(page, "card-en")
    member.refresh_from_db()
    assert member.language == "en"

    page.goto(f"/liff/{portal_brand.slug}/points/")  # the choice sticks to the member
    expect(nav.locator("a[aria-current=page]")).to_have_text("Points")

    page.goto(f"/liff/{portal_brand.slug}/points/?lang=th")
    expect(nav.locator("a")).to_have_text(["บัตร", "แต้ม", "ของรางวัล", "คูปอง", "โปรไฟล์"])
    shot(page, "points-th")
    member.refresh_from_db()
    assert member.language == "th"
    assert_stayed_local(phone)


def test_an_english_page_declares_lang_en(phone, fake_line, portal_brand, consents):
    make_active_member(portal_brand, consents, language="en")
    page = phone.page
    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)
    expect(page.locator("nav.tabs a").first).to_have_text("Card")
    assert_stayed_local(phone)
    assert page.locator("html").get_attribute("lang") == "en"  # screen readers, hyphenation, font choice


# --- 7. page weight --------------------------------------------------------------------------


def test_the_login_and_card_pages_weigh_under_150_kb_compressed(phone, fake_line, portal_brand, consents,
                                                                 live_server, settings):
    member = make_active_member(portal_brand, consents, language="th")
    factories.give_points(member, 10, key="opening")
    page = phone.page
    responses = []
    page.on("response", lambda response: responses.append(response))

    # The LIFF login page as the tests serve it: the SDK with the mock plugin (no user chosen yet).
    page.goto(f"/liff/{portal_brand.slug}/card/")
    expect(page.locator("body")).to_have_attribute("data-liff-state", "choose-user")
    page.wait_for_load_state("networkidle")
    login_mock = page_weight(responses)

    # The card, in a tab of its own (same cookies) so that no response of the sign-in counts.
    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER)
    card_tab, card_responses = page.context.new_page(), []
    card_tab.on("response", lambda response: card_responses.append(response))
    card_tab.goto(f"/liff/{portal_brand.slug}/card/")
    expect(card_tab.locator("#member-qr svg")).to_be_visible()
    card_tab.wait_for_load_state("networkidle")
    card_page = page_weight(card_responses)
    card_tab.close()

    # The production login page (the real LIFF SDK bundle) is only fetched, not run: outside LINE
    # its liff.init would go to LINE's servers.
    settings.LIFF_MOCK = False
    login_production = page_weight_over_http(live_server.url, f"/liff/{portal_brand.slug}/card/")

    weights = {"limit_bytes": WEIGHT_LIMIT, "compression": "gzip level 6, per response body",
               "card": card_page, "login_liff_mock": login_mock, "login_production": login_production}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-weight.json").write_text(json.dumps(weights, indent=2))

    assert {f["kind"] for f in card_page["files"]} == {"html", "js", "css"}
    assert {f["status"] for name in ("card", "login_liff_mock") for f in weights[name]["files"]} == {200}
    assert any(f["path"].endswith("/dist/liff-mock.js") for f in login_mock["files"])
    assert any(f["path"].endswith("/dist/liff.js") for f in login_production["files"])
    for name in ("card", "login_liff_mock", "login_production"):
        assert weights[name]["gzip_total"] < WEIGHT_LIMIT, (name, weights[name])
        assert weights[name]["other"] == [], (name, weights[name]["other"])
    assert_stayed_local(phone)


# --- 9. "play a LINE user" (LIFF_MOCK development sign-in) ----------------------------------


def test_play_a_line_user_signs_in_a_typed_line_user_id_through_the_fake_line_server(phone, fake_line,
                                                                                     portal_brand, consents):
    page = phone.page
    line_user_id = "U" + "0123456789abcdef" * 2

    page.goto(f"/liff/{portal_brand.slug}/card/")
    expect(page.locator("body")).to_have_attribute("data-liff-state", "choose-user")
    expect(page.locator("body")).to_have_attribute("data-authenticated", "0")
    expect(page.locator("#liff-loading")).to_be_hidden()
    expect(page.locator("#liff-error")).to_be_hidden()
    shot(page, "login-play-a-line-user")

    page.fill("#as", line_user_id)
    page.locator("form[method=get] button[type=submit]").click()
    # The server asks the fake for a signed ID token, the mock SDK hands it to the page, the page
    # posts it to /session/ and reloads: a new LINE user is sent to registration.
    expect(page).to_have_url(re.compile(r"/liff/cafe/register/$"))
    expect(page.locator("body")).to_have_attribute("data-authenticated", "1")
    member = Member.objects.get(brand=portal_brand, line_user_id=line_user_id)
    assert member.status == Member.Status.PENDING and member.user is not None
    verified = fake_line.requests("/oauth2/v2.1/verify")
    assert len(verified) == 1 and verified[0]["body"]["client_id"] == LOGIN_CHANNEL
    shot(page, "register-played-user")
    assert_stayed_local(phone)
