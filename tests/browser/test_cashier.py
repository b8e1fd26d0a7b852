"""The cashier page (/cashier/) in a real browser at tablet size: sign in, branch, identify by code,
phone and camera, award with the points preview, accept a coupon, void, shift summary.

The camera test launches a second Chromium with its fake media device playing a Y4M video of a
real QR (made here with ``qrcode``), so dist/cashier.js (html5-qrcode) decodes it as it would a
member's phone held up to the tablet. Screenshots: ``test-artifacts/browser/test_cashier*--*.png``.
"""

import contextlib
import re
from decimal import Decimal
from pathlib import Path

import pytest
import qrcode
from django.conf import settings
from django.contrib.auth import get_user_model
from PIL import Image
from playwright.sync_api import expect

from loyalty.models import CashierAction, Coupon, PointAccount
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from members.card import card_token
from members.models import Member, StaffAssignment
from tests import factories
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, guard

TABLET = {"width": 820, "height": 1180}
PASSWORD = "till-pw-1234"
CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# What the scanner says without a usable camera, and its Stop button, in the page's language.
NO_CAMERA = {"en": (re.compile(r"^(The camera is blocked|No camera could be started)"), "Close"),
             "th": (re.compile(r"^(ไม่ได้รับอนุญาตให้ใช้กล้อง|เปิดกล้องบนอุปกรณ์นี้ไม่ได้)"), "ปิด")}


@pytest.fixture
def shop(transactional_db):
    brand = factories.brand_with_program(slug="bakery", name="Baan Bakery")
    main = brand.branches.get(code="MAIN")
    factories.BranchFactory(brand=brand, code="OLDTOWN", name="Old Town")
    other = factories.brand_with_program(slug="rival", name="Rival Coffee")
    user = get_user_model().objects.create_user(username="till", password=PASSWORD)
    StaffAssignment.objects.create(user=user, brand=brand, role=StaffAssignment.Role.CASHIER)  # every branch
    member = factories.MemberFactory(brand=brand, first_name="Malee", last_name="Sukjai")
    reward = factories.RewardFactory(brand=brand, name="Free croissant", points_cost=10, value_thb=Decimal("65"))
    return {"brand": brand, "main": main, "other": other, "user": user, "member": member, "reward": reward}


def coupon_for(shop, request_id):
    holder = factories.MemberFactory(brand=shop["brand"])
    factories.give_points(holder, 10, key=f"seed-{request_id}")
    return reward_redeem(brand=shop["brand"], member=holder, reward_id=shop["reward"].pk,
                         request_id=request_id).redemption.coupon


def sign_in(page, *, branch_label="MAIN"):
    page.goto("/cashier/")
    expect(page).to_have_url(re.compile(r"/cashier/login/"))
    page.fill("#id_username", "till")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cashier/branch/$"))
    page.get_by_label(re.compile(rf"\({branch_label}\)")).check()
    page.click("text=Start my shift")
    expect(page).to_have_url(re.compile(r"/cashier/$"))
    ready(page)


def ready(page):
    """dist/cashier.js has bound the page (deferred scripts run after the HTML is already usable)."""
    expect(page.locator("body")).to_have_attribute("data-cashier-ready", "1")


def success(page):
    return page.locator("[data-testid=message-success]")


def test_cashier_full_flow_at_tablet_size(browser, shop):
    page = browser.page
    page.set_viewport_size(TABLET)
    member, main, other = shop["member"], shop["main"], shop["other"]
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    # Signed out, the page asks for the cashier sign-in; the admin is not theirs, nor another brand.
    page.goto("/cashier/")
    expect(page).to_have_url(re.compile(r"/cashier/login/\?next=/cashier/$"))
    browser.screenshot("1-login")
    page.fill("#id_username", "till")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cashier/branch/$"))
    expect(page.locator("form.card")).to_contain_text("Baan Bakery · Old Town (OLDTOWN)")
    expect(page.locator("form.card")).not_to_contain_text("Rival")
    browser.screenshot("2-branch")
    # A forged choice of another brand's branch is refused: still on the form, and no cashier page.
    page.locator("input[name=branch]").first.evaluate("(radio, pk) => { radio.value = pk; }",
                                                     str(other.branches.get().pk))
    page.click("text=Start my shift")
    expect(page).to_have_url(re.compile(r"/cashier/branch/$"))
    page.goto("/cashier/")
    expect(page).to_have_url(re.compile(r"/cashier/branch/$"))
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(page.locator("body")).not_to_contain_text("Site administration")

    page.goto("/cashier/branch/")
    page.get_by_label(re.compile(r"\(MAIN\)")).check()
    page.click("text=Start my shift")
    expect(page).to_have_url(re.compile(r"/cashier/$"))
    expect(page.locator("h1")).to_have_text(f"Baan Bakery · {main.name}")
    expect(page.locator("#amount")).to_be_disabled()  # nobody identified yet
    ready(page)
    browser.screenshot("3-home")

    # No camera in the session browser: the scanner says so in the page's language, and can be closed.
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the script's own strings follow it
    no_camera, close = NO_CAMERA["en"]
    page.click("#scan-member")
    expect(page.locator("#scanner [role=alert]")).to_have_text(no_camera)
    expect(page.locator("#scanner-stop")).to_have_text(close)
    browser.screenshot("4-no-camera")
    page.click("#scanner-stop")
    expect(page.locator("#scanner")).to_be_hidden()

    # Identify by the typed member code (any case).
    page.fill("#code", member.code.lower())
    page.click("text=Find")
    expect(page.get_by_test_id("member-code")).to_have_text(member.code)
    expect(page.get_by_test_id("member-balance")).to_have_text("0")
    ready(page)

    # The preview follows the brand's earn rule (25 THB = 1 point) and explains a bad amount.
    page.fill("#amount", "0")
    expect(page.locator("#preview")).to_have_text("Enter an amount in baht.")
    page.fill("#amount", "260")
    expect(page.locator("#preview")).to_have_text("Earns 10 Points")
    page.fill("#bill_number", "B-100")
    page.fill("#items", "Croissant x2\nLatte")
    browser.screenshot("5-preview")
    page.click("#award button[type=submit]")
    expect(success(page)).to_have_text("Awarded 10 points for 260.00 THB.")
    assert dialogs == ["Award these points?"]
    expect(page.get_by_test_id("member-balance")).to_have_text("10")
    expect(page.get_by_test_id("shift-summary")).to_have_text(
        "1 awards (10 points, 260.00 THB) · 0 voids · 0 coupons")
    award = CashierAction.objects.get(kind="award")
    assert (award.member, award.branch, award.cashier, award.points) == (member, main, shop["user"], 10)
    assert award.device_time is not None and award.details == {"bill": "B-100"}
    browser.screenshot("6-awarded")
    ready(page)

    # Next customer, by phone: unknown, so a pending phone membership keeps their points.
    page.click("text=Next customer")
    page.fill("#phone", "089 123 4567")
    page.click("text=Find or create")
    expect(success(page)).to_contain_text("New phone membership created for +66891234567")
    pending = Member.objects.get(brand=shop["brand"], phone="+66891234567")
    assert pending.status == Member.Status.PENDING
    expect(page.get_by_test_id("current-member")).to_contain_text("+66891234567")
    expect(page.get_by_test_id("member-code")).to_have_text(pending.code)
    browser.screenshot("7-phone-member")
    ready(page)

    # A coupon by its typed code: what it is worth, used at this branch, once.
    coupon = coupon_for(shop, "typed")
    page.fill("#coupon-code", coupon.display_code.lower())
    page.click("text=Check coupon")
    checked = page.get_by_test_id("checked-coupon")
    expect(checked).to_contain_text("Free croissant")
    expect(checked).to_contain_text("worth 65.00 THB")
    expect(page.get_by_test_id("coupon-state")).to_contain_text("Valid")
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED  # checking uses nothing
    ready(page)
    checked.get_by_role("button", name="Use coupon").click()
    expect(success(page)).to_have_text("Coupon accepted: Free croissant (65.00 THB)")
    coupon.refresh_from_db()
    assert (coupon.status, coupon.used_branch) == (Coupon.Status.USED, main)
    ready(page)
    page.fill("#coupon-code", coupon.code)
    page.click("text=Check coupon")
    expect(page.get_by_test_id("coupon-state")).to_contain_text("Already used")
    expect(page.get_by_test_id("checked-coupon").get_by_role("button", name="Use coupon")).to_have_count(0)
    browser.screenshot("8-coupon")
    ready(page)

    # A coupon with a minimum spend: the page asks the bill total, and a bill below it uses nothing.
    holder = factories.MemberFactory(brand=shop["brand"])
    factories.give_points(holder, 10, key="seed-minimum")
    discount = factories.RewardFactory(brand=shop["brand"], name="50 off", points_cost=10, value_thb=Decimal("50"),
                                       min_spend_thb=Decimal("300"))
    minimum = reward_redeem(brand=shop["brand"], member=holder, reward_id=discount.pk,
                            request_id="minimum").redemption.coupon
    page.fill("#coupon-code", minimum.code)
    page.click("text=Check coupon")
    checked = page.get_by_test_id("checked-coupon")
    bill = checked.get_by_label("Bill total (THB)")
    expect(bill).to_be_visible()
    expect(checked).to_contain_text("This coupon needs a bill of at least 300.00 THB.")
    ready(page)
    checked.get_by_role("button", name="Use coupon").click()  # no total: the browser asks for it, sends nothing
    assert bill.evaluate("input => input.validity.valueMissing")
    expect(bill).to_be_focused()
    bill.fill("299.99")
    checked.get_by_role("button", name="Use coupon").click()
    expect(page.get_by_test_id("message-error")).to_have_text("This coupon needs a bill of at least 300.00 THB.")
    minimum.refresh_from_db()
    assert minimum.status == Coupon.Status.ISSUED and not CashierAction.objects.filter(coupon=minimum).exists()
    browser.screenshot("8b-coupon-below-minimum")
    ready(page)
    page.get_by_test_id("checked-coupon").get_by_label("Bill total (THB)").fill("300")  # the coupon stayed
    page.get_by_test_id("checked-coupon").get_by_role("button", name="Use coupon").click()
    expect(success(page)).to_have_text("Coupon accepted: 50 off (50.00 THB)")
    minimum.refresh_from_db()
    assert (minimum.status, minimum.used_branch) == (Coupon.Status.USED, main)
    assert CashierAction.objects.get(coupon=minimum).details["bill_total"] == "300.00"
    ready(page)

    # Void the award (confirmed): the points go back through the ledger; the summary follows.
    page.get_by_test_id(f"action-{award.pk}").get_by_role("button", name="Void").click()
    expect(success(page)).to_have_text("Award voided: 10 points reversed.")
    assert dialogs == ["Award these points?", "Void this award?"]
    expect(page.get_by_test_id(f"action-{award.pk}")).to_contain_text("voided")
    expect(page.get_by_test_id("shift-summary")).to_have_text(
        "1 awards (10 points, 260.00 THB) · 1 voids · 2 coupons")
    assert PointAccount.objects.get(member=member).balance == 0
    assert ledger_mismatches() == []
    browser.screenshot("9-voided")

    # The scanner speaks Thai on a Thai page.
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "th", "url": browser.base_url}])
    page.goto("/cashier/")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    ready(page)
    page.click("#scan-coupon")
    no_camera, close = NO_CAMERA["th"]
    expect(page.locator("#scanner [role=alert]")).to_have_text(no_camera)
    expect(page.locator("#scanner-stop")).to_have_text(close)
    assert browser.outside_requests == []


# --- The camera: Chromium's fake capture device plays a Y4M video of a real QR.


def write_y4m(path: Path, payload: str | None, *, width=640, height=480, qr_side=300, frames=5):
    """A YUV4MPEG2 4:2:0 video: ``frames`` identical frames of the QR of ``payload`` (or blank)."""
    canvas = Image.new("L", (width, height), 255)
    if payload is not None:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
        code.add_data(payload)
        code.make(fit=True)
        modules = code.make_image().get_image().convert("L")
        scale = max(1, qr_side // modules.width)
        image = modules.resize((modules.width * scale, modules.height * scale), Image.NEAREST)
        canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    y, cb, cr = canvas.convert("RGB").convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    tmp.replace(path)  # Chromium reopens the file each time the camera starts


@contextlib.contextmanager
def camera_page(session, playwright_driver, live_server, video: Path):
    """A tablet page in a second Chromium whose camera plays ``video``; outside requests are
    blocked and recorded in the ``browser`` session's list (asserted empty at teardown)."""
    args = [*CHROMIUM_ARGS, *CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"]
    camera_browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        context = camera_browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="Asia/Bangkok",
                                             viewport=TABLET, service_workers="block")
        context.grant_permissions(["camera"], origin=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)

        yield guard(context, session, live_server.url)
        context.close()
    finally:
        camera_browser.close()


def shot(page, step):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"test_cashier_camera--{step}.png"), full_page=True)


def test_scanning_a_member_card_and_a_coupon_with_the_camera(browser, shop, playwright_driver, live_server, tmp_path):
    video = tmp_path / "camera.y4m"
    write_y4m(video, None)  # nothing in front of the camera yet
    with camera_page(browser, playwright_driver, live_server, video) as page:
        sign_in(page)

        # The camera opens under the button; Stop closes it.
        page.click("#scan-member")
        expect(page.locator("#scanner")).to_have_attribute("data-state", "scanning")
        expect(page.locator("#scanner video")).to_be_visible()
        expect(page.locator("#scanner-stop")).to_have_text("Stop scanning")
        expect(page.locator("#scanner video")).to_have_js_property("videoWidth", 640)
        shot(page, "1-scanning")
        page.click("#scanner-stop")
        expect(page.locator("#scanner")).to_be_hidden()
        expect(page.locator("#scanner video")).to_have_count(0)

        # The member shows their card: a fresh signed token identifies them.
        member = shop["member"]
        write_y4m(video, card_token(member))
        page.click("#scan-member")
        expect(page.get_by_test_id("member-code")).to_have_text(member.code, timeout=30_000)
        ready(page)
        lookup = CashierAction.objects.get(kind="lookup", member=member)
        assert lookup.details == {"by": "qr", "created": False} and lookup.device_time is not None
        shot(page, "2-member-scanned")

        # A coupon's QR is its code: accepted at this branch.
        coupon = coupon_for(shop, "scanned")
        write_y4m(video, coupon.code)
        page.click("#scan-coupon")
        expect(page.get_by_test_id("coupon-state")).to_contain_text("Valid", timeout=30_000)
        page.get_by_test_id("checked-coupon").get_by_role("button", name="Use coupon").click()
        expect(success(page)).to_have_text("Coupon accepted: Free croissant (65.00 THB)")
        coupon.refresh_from_db()
        assert (coupon.status, coupon.used_branch) == (Coupon.Status.USED, shop["main"])
        expect(page.get_by_test_id("member-code")).to_have_text(member.code)  # the member stays identified
        shot(page, "3-coupon-scanned")
    assert browser.outside_requests == []
