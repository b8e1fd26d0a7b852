"""The portal's earning pages in a real browser, at phone size: receipts, daily check-in, surveys.

Signed in through LIFF (mock SDK) as in ``test_portal.py``. Receipts are images rendered by
``loyalty.receipts.samples`` and read by the real Tesseract: the live server commits the
upload, then the Celery task runs eagerly (no broker) before the redirect is answered, so
the page the member lands on already shows the decision. Screenshots:
``test-artifacts/browser/portal-earn-*.png``.
"""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import imagehash
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from loyalty.activity.models import ActivityAward, ActivityRule, Survey, SurveyResponse
from loyalty.activity.services import bangkok_today
from loyalty.models import LedgerEntry, PointAccount, Purchase
from loyalty.receipts.images import image_normalise
from loyalty.receipts.models import PHASH_MAX_DISTANCE, Receipt, ReceiptRule, ReceiptStore
from loyalty.receipts.samples import STORES, SampleReceipt
from loyalty.services.verification import ledger_mismatches
from members.models import Member
from tests import factories
from tests.browser.portal_helpers import liff_sign_in, phone_session, shot
from tests.browser.test_portal import LOGIN_CHANNEL, MEMBER_USER, make_active_member
from tests.liff.conftest import publish
from tests.receipts.conftest import receipt, receipt_jpeg

TOKEN = "earn-pages-channel-access-token"
NOT_A_PHOTO = b"Total 1,250.00 THB - a text file, not a photo\n" * 20
Status = Receipt.Status


@pytest.fixture(autouse=True)
def _earn_settings(settings, tmp_path):
    settings.LIFF_MOCK = True
    settings.MEDIA_ROOT = tmp_path / "media"  # the live server's thread stores receipt photos here


@pytest.fixture
def phone(browser, chromium, live_server):
    with phone_session(browser, chromium, live_server) as session:
        yield session


@pytest.fixture
def earn_brand(transactional_db, fake_line):
    """The portal brand (25 THB = 1 point), its LINE channel on the fake, the sample stores, auto-approval on."""
    brand = factories.brand_with_program(slug="cafe", name="ร้านกาแฟบ้านสวน")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.line_channel_access_token = TOKEN
    brand.save()
    fake_line.add_channel(TOKEN, login_channel_id=LOGIN_CHANNEL)
    siam = factories.BranchFactory(brand=brand, code="SIAM", name="Siam")
    for index, (name, _second_line) in enumerate(STORES):
        ReceiptStore.objects.create(brand=brand, name=name, branch=siam if index == 0 else None)
    ReceiptRule.objects.create(brand=brand, auto_approve=True, min_confidence=70, max_total=Decimal("5000"),
                               max_age_days=7, max_auto_approved_per_day=3)
    return brand


@pytest.fixture
def consents(earn_brand):
    return {"terms": publish(earn_brand, "terms", True, "ข้อกำหนดการใช้งาน", "ข้อกำหนด"),
            "privacy": publish(earn_brand, "privacy", True, "นโยบายความเป็นส่วนตัว", "เราเก็บข้อมูลของคุณ")}


@pytest.fixture
def member(earn_brand, consents, fake_line):
    """An active English-speaking member who follows the brand on LINE (so decisions are pushed)."""
    fake_line.add_user(MEMBER_USER)
    member = make_active_member(earn_brand, consents)
    Member.objects.filter(pk=member.pk).update(line_reachable=True)
    member.refresh_from_db()
    return member


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def stayed_local(session, *expected_errors: str) -> None:
    """No request left the machine; the only 4xx/5xx responses were the ones the test caused."""
    assert session.outside_requests == []
    assert session.error_responses == [f"{status} {session.base_url}{path}" for status, path in
                                       (error.split(" ", 1) for error in expected_errors)]


def page_path(page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def stored_photos(settings) -> list:
    return sorted((settings.MEDIA_ROOT / "receipts").rglob("*.jpg"))


def phash_distance(first: bytes, second: bytes) -> int:
    """Bits between the perceptual hashes the server stores for two uploads."""
    return imagehash.hex_to_hash(image_normalise(first).phash) - imagehash.hex_to_hash(image_normalise(second).phash)


def upload(page, data: bytes, name: str = "receipt.jpg", mime: str = "image/jpeg") -> None:
    page.locator("#receipt-image").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.get_by_test_id("upload-receipt").click()


def post_again(page, url: str, token: str, data: dict | None = None) -> dict:
    """POST the form once more from the page (a double tap, or a form resubmitted from history)."""
    return page.evaluate("""async ([url, fields]) => {
        const response = await fetch(url, {method: 'POST', credentials: 'same-origin',
                                           body: new URLSearchParams(fields)});
        return {status: response.status, url: response.url, redirected: response.redirected};
    }""", [url, {"csrfmiddlewaretoken": token, **(data or {})}])


def unknown_store_receipt() -> SampleReceipt:
    """A receipt of a shop the brand never registered, printed on another till (other layout and font)."""
    today = timezone.localdate()
    return SampleReceipt(
        store="SOMCHAI NOODLE HOUSE", store_second_line="Soi Ari 4, Bangkok", number_text="Receipt # 620417",
        number="620417", date_text=f"Date: {today.isoformat()} 12:05", receipt_date=today, total_label="TOTAL",
        total=Decimal("185.00"), font="Loma.ttf", font_size=22,
        items=(("Boat noodles", Decimal("60.00")), ("Pork rind", Decimal("45.00")), ("Thai iced tea", Decimal("80.00"))),
    )


# --- 1. receipts -----------------------------------------------------------------------------


def test_a_receipt_upload_is_approved_a_non_photo_is_refused_and_an_unknown_store_waits_for_review(
        phone, fake_line, earn_brand, member, settings):
    factories.give_points(member, 10, key="opening")
    page = phone.page
    known = receipt_jpeg(receipt(number="910001", total="1250.00"))  # แต้มคาเฟ่ สาขาสยาม, today, 1,250.00
    unknown = receipt_jpeg(unknown_store_receipt(), width=600)
    # A near-identical image would be rejected as a copy of the approved one (see the xfail below).
    assert phash_distance(known, unknown) > PHASH_MAX_DISTANCE + 4

    liff_sign_in(phone, fake_line, earn_brand, MEMBER_USER)
    expect(page.get_by_test_id("balance-points")).to_have_text("10")
    page.get_by_role("link", name="Upload a receipt").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/receipts/$"))
    expect(page.locator("main h2")).to_have_text("Earn points from a receipt")
    expect(page.locator("main")).to_contain_text("No receipts yet.")
    expect(page.locator("#receipt-image")).to_have_attribute("accept", "image/*")
    shot(page, "earn-receipts-empty")

    # A clear receipt of a registered store: read, approved and paid before the page comes back.
    upload(page, known)
    approved = Receipt.objects.get(member=member)
    expect(page).to_have_url(re.compile(rf"/liff/cafe/receipts/\?uploaded={approved.pk}$"))
    expect(page.get_by_test_id("uploaded-status")).to_have_text("Approved: you earned 50 points.")
    row = page.get_by_test_id(f"receipt-{approved.pk}")
    expect(row).to_have_attribute("data-status", "approved")
    expect(row).to_contain_text("แต้มคาเฟ่ สาขาสยาม")
    expect(row).to_contain_text("1,250.00 THB")
    thumbnail = row.locator("img")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    expect(page.get_by_test_id("receipt-list")).not_to_have_attribute("data-poll-url", re.compile("."))
    shot(page, "earn-receipts-approved")

    approved.refresh_from_db()
    assert (approved.status, approved.receipt_number, approved.total, approved.receipt_date) == (
        Status.APPROVED, "910001", Decimal("1250.00"), timezone.localdate())
    purchase = Purchase.objects.get(member=member)
    assert (purchase.channel, purchase.total, purchase.points_earned, purchase.branch.code) == (
        "receipt", Decimal("1250.00"), 50, "SIAM")
    assert approved.purchase == purchase and balance(member) == 60
    assert len(stored_photos(settings)) == 1
    told = [message["altText"] for message in fake_line.inbox(MEMBER_USER)]
    assert sum("receipt was approved" in text for text in told) == 1, told

    # A text file named .jpg: a clear error, and nothing is stored or written. (The form posts back
    # to the page's own URL, ?uploaded=<pk>: see the xfail below for what that shows.)
    upload(page, NOT_A_PHOTO, name="receipt.jpg")
    expect(page.get_by_test_id("upload-error")).to_have_text(
        "This file is not a photo we can read. Please upload a JPEG, PNG, HEIC or WEBP image.")
    expect(page.get_by_test_id("upload-error")).to_have_attribute("role", "alert")
    expect(page.locator("[data-testid^=receipt-][data-status]")).to_have_count(1)
    refused_at = page_path(page)  # where the form posted: the page's own URL
    shot(page, "earn-receipts-not-a-photo")
    assert Receipt.objects.count() == 1 and Purchase.objects.count() == 1 and balance(member) == 60
    assert len(stored_photos(settings)) == 1

    # A shop the brand does not know: read, but left for staff; no points yet.
    upload(page, unknown)
    waiting = Receipt.objects.exclude(pk=approved.pk).get(member=member)
    expect(page).to_have_url(re.compile(rf"/liff/cafe/receipts/\?uploaded={waiting.pk}$"))
    expect(page.get_by_test_id("uploaded-status")).to_have_text("Received: our staff will check it soon.")
    expect(page.get_by_test_id(f"receipt-{waiting.pk}")).to_have_attribute("data-status", "needs_review")
    expect(page.locator("ul[data-testid=receipt-list] > li")).to_have_count(2)
    shot(page, "earn-receipts-waiting")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.store, waiting.purchase, waiting.duplicate_of) == (
        Status.NEEDS_REVIEW, None, None, None)
    assert "store_unknown" in waiting.review_reasons, waiting.review_reasons
    assert (waiting.receipt_number, waiting.total) == ("620417", Decimal("185.00")), waiting.ocr_text

    page.get_by_role("link", name="Back to my card").click()
    expect(page.get_by_test_id("balance-points")).to_have_text("60")
    assert Purchase.objects.filter(member=member).count() == 1 and balance(member) == 60
    assert LedgerEntry.objects.filter(account__member=member, kind="earn").count() == 1
    assert ledger_mismatches() == []
    stayed_local(phone, f"400 {refused_at}")


def test_a_refused_upload_does_not_repeat_the_previous_uploads_approval(phone, fake_line, earn_brand, member):
    page = phone.page
    liff_sign_in(phone, fake_line, earn_brand, MEMBER_USER, path="receipts/")
    upload(page, receipt_jpeg(receipt(number="910201", total="250.00")))
    expect(page.get_by_test_id("uploaded-status")).to_have_text("Approved: you earned 10 points.")

    upload(page, NOT_A_PHOTO)
    expect(page.get_by_test_id("upload-error")).to_be_visible()
    shot(page, "earn-receipts-refused-after-approved")
    assert Receipt.objects.get(member=member).status == Status.APPROVED and balance(member) == 10
    stayed_local(phone, f"400 {page_path(page)}")
    shown = page.get_by_test_id("uploaded-status")
    assert shown.count() == 0, f"the refused upload's page also says: {shown.inner_text()!r}"


def test_a_second_receipt_from_the_same_store_on_another_visit_earns_too(phone, fake_line, earn_brand, member):
    page = phone.page
    first = receipt_jpeg(receipt(number="910101", total="1250.00"))
    three_days_ago = timezone.localdate() - timedelta(days=3)
    second = receipt_jpeg(receipt(number="774410", total="95.00", day=three_days_ago))
    liff_sign_in(phone, fake_line, earn_brand, MEMBER_USER, path="receipts/")

    upload(page, first)
    expect(page.get_by_test_id("uploaded-status")).to_have_text("Approved: you earned 50 points.")
    upload(page, second)
    expect(page).to_have_url(re.compile(r"/liff/cafe/receipts/\?uploaded=\d+$"))
    shot(page, "earn-receipts-second-visit")
    stayed_local(phone)

    later = Receipt.objects.filter(member=member).order_by("pk").last()
    # Everything on it was read right: another number, total and date at the same (registered) store.
    assert (later.store.name, later.receipt_number, later.total, later.receipt_date) == (
        STORES[0][0], "774410", Decimal("95.00"), three_days_ago), later.ocr_text
    assert (later.status, later.reason) == (Status.APPROVED, ""), (
        f"{later.status}: {later.reason} (perceptual-hash distance {phash_distance(first, second)} bits)")
    expect(page.get_by_test_id("uploaded-status")).to_have_text("Approved: you earned 3 points.")
    assert balance(member) == 53


# --- 2. daily check-in -----------------------------------------------------------------------


def test_the_daily_check_in_credits_once_and_says_come_back_tomorrow(phone, fake_line, earn_brand, member):
    ActivityRule.objects.create(brand=earn_brand, activity="check_in", points=5, period="daily")
    page = phone.page
    check_in_path = f"/liff/{earn_brand.slug}/activity/check-in/"
    liff_sign_in(phone, fake_line, earn_brand, MEMBER_USER)
    expect(page.get_by_test_id("balance-points")).to_have_text("0")

    page.get_by_role("link", name="Daily check-in").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/activity/check-in/$"))
    section = page.get_by_test_id("check-in")
    expect(section).to_contain_text("Check in today to collect 5 points.")
    expect(page.get_by_test_id("streak")).to_have_text("Days in a row: 0")
    shot(page, "earn-check-in")
    token = section.locator("input[name=csrfmiddlewaretoken]").input_value()

    page.get_by_test_id("check-in-button").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/activity/check-in/\?done=1$"))
    expect(page.get_by_test_id("checked-in")).to_have_text("Checked in! +5 points.")
    tomorrow = bangkok_today() + timedelta(days=1)
    expect(section).to_contain_text(
        f"Come back tomorrow (from {tomorrow.day} {tomorrow:%b} 00:00) to keep your streak.")
    expect(section.get_by_role("button", name="Checked in")).to_be_disabled()
    expect(page.get_by_test_id("check-in-button")).to_have_count(0)
    expect(page.get_by_test_id("streak")).to_have_text("Days in a row: 1")
    shot(page, "earn-checked-in")
    award = ActivityAward.objects.get(member=member)
    assert (award.activity, award.points, award.day) == ("check_in", 5, bangkok_today())
    assert balance(member) == 5

    # Back to the form: it is fetched again and offers no second check-in.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/liff/cafe/activity/check-in/$"))
    expect(page.get_by_test_id("already-checked-in")).to_have_text("You already checked in today.")
    expect(page.get_by_test_id("check-in-button")).to_have_count(0)
    # The old form posted again anyway (a double tap): accepted, but nothing more is paid.
    again = post_again(page, check_in_path, token)
    assert again["status"] == 200 and again["redirected"] and again["url"].endswith("?done=0"), again
    page.reload()
    expect(page.get_by_test_id("already-checked-in")).to_be_visible()
    shot(page, "earn-check-in-again")

    page.get_by_role("link", name="All activities").click()
    expect(page.get_by_test_id("activity-check-in")).to_contain_text("You checked in today. Come back tomorrow!")
    page.goto(f"/liff/{earn_brand.slug}/card/")
    expect(page.get_by_test_id("balance-points")).to_have_text("5")
    assert ActivityAward.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(account__member=member).count() == 1
    assert LedgerEntry.objects.get(account__member=member).idempotency_key == (
        f"activity:checkin:{member.pk}:{bangkok_today().isoformat()}")
    assert balance(member) == 5 and ledger_mismatches() == []
    stayed_local(phone)


# --- 3. surveys ------------------------------------------------------------------------------

QUESTIONS = [
    {"key": "visits", "type": "choice", "label_th": "มาร้านบ่อยแค่ไหน", "label_en": "How often do you visit?",
     "required": True, "choices": [{"value": "weekly", "th": "ทุกสัปดาห์", "en": "Every week"},
                                   {"value": "monthly", "th": "ทุกเดือน", "en": "Every month"}]},
    {"key": "idea", "type": "text", "label_th": "อยากให้มีเมนูอะไร", "label_en": "Which drink should we add?",
     "required": False},
]


def test_a_survey_is_answered_once_pays_once_and_shows_it_was_answered(phone, fake_line, earn_brand, member):
    survey = Survey.objects.create(brand=earn_brand, title="แบบสอบถามความพึงพอใจ", title_en="How was your visit?",
                                   description="Two questions, one minute.", questions=QUESTIONS, points=20)
    survey.full_clean()  # as staff would have saved it in the admin
    page = phone.page
    survey_path = f"/liff/{earn_brand.slug}/activity/surveys/{survey.pk}/"
    liff_sign_in(phone, fake_line, earn_brand, MEMBER_USER)

    page.get_by_role("link", name="Surveys and activities").click()
    listed = page.get_by_test_id("activity-surveys")
    expect(listed).to_contain_text("How was your visit?")
    expect(listed).to_contain_text("+20")
    listed.get_by_role("link", name="How was your visit?").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(survey_path)}$"))
    form = page.get_by_test_id("survey")
    expect(form.locator("h2")).to_have_text("How was your visit?")
    expect(form).to_contain_text("Answer to collect 20 points (once).")
    expect(form.locator("legend")).to_have_text("How often do you visit? *")
    shot(page, "earn-survey")
    token = form.locator("input[name=csrfmiddlewaretoken]").input_value()

    # The required choice left out: the page says what is missing and keeps what was typed.
    page.get_by_label("Which drink should we add?").fill("ชาเขียวมัทฉะ oat milk")
    page.get_by_test_id("survey-submit").click()
    expect(form.get_by_role("alert")).to_have_text("Please check the answers below.")
    expect(form.locator("fieldset.question").first.locator(".errors")).to_have_text("This field is required.")
    expect(page.get_by_label("Which drink should we add?")).to_have_value("ชาเขียวมัทฉะ oat milk")
    shot(page, "earn-survey-missing-answer")
    assert SurveyResponse.objects.count() == 0 and balance(member) == 0

    page.get_by_label("Every week").check()
    page.get_by_test_id("survey-submit").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(survey_path)}\?done=1$"))
    expect(page.get_by_test_id("survey-done")).to_have_text("Thank you! +20 points.")
    expect(form.locator("form")).to_have_count(0)
    shot(page, "earn-survey-done")
    response = SurveyResponse.objects.get(member=member)
    assert (response.survey, response.answers, response.points) == (
        survey, {"visits": "weekly", "idea": "ชาเขียวมัทฉะ oat milk"}, 20)
    assert balance(member) == 20

    # Reopened: it says it was answered, and a resubmitted old form changes nothing.
    page.goto(survey_path)
    expect(page.get_by_test_id("survey-answered")).to_have_text("You already answered this survey. Thank you!")
    expect(form.locator("textarea, input[type=radio]")).to_have_count(0)
    again = post_again(page, survey_path, token, {"q_visits": "monthly", "q_idea": "something else"})
    assert again["status"] == 200 and not again["redirected"], again
    page.get_by_role("link", name="All activities").click()
    answered = page.get_by_test_id("activity-surveys").locator("li")
    expect(answered).to_contain_text("Answered")
    expect(answered.get_by_role("link")).to_have_count(0)
    shot(page, "earn-survey-answered")

    response.refresh_from_db()
    assert response.answers == {"visits": "weekly", "idea": "ชาเขียวมัทฉะ oat milk"}
    assert SurveyResponse.objects.count() == 1
    assert ActivityAward.objects.filter(member=member, activity="survey").count() == 1
    assert LedgerEntry.objects.get(account__member=member).idempotency_key == (
        f"activity:survey:{survey.pk}:{member.pk}")
    assert balance(member) == 20 and ledger_mismatches() == []
    stayed_local(phone, f"400 {survey_path}")
