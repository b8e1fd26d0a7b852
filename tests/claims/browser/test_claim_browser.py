"""A member claims printed codes in a real browser (LIFF mock): typed, and scanned with the camera.

The camera is Chromium's fake capture device playing a Y4M video of a label's QR exactly as
the PDF draws it (``exports._qr_image``), so the bundled html5-qrcode scanner (dist/cashier.js)
decodes what would be printed. Screenshots: ``test-artifacts/browser/claims-*.png``.
"""

import contextlib
import json
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from consent.services import consent_record
from loyalty.claims import exports
from loyalty.claims.selectors import claim_url
from loyalty.claims.services import claim_batch_create
from loyalty.models import LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
from members.models import Member
from members.services import member_line_login
from tests import factories
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, guard
from tests.liff.conftest import publish

LOGIN_CHANNEL = "1650000077"
MEMBER_USER = "U" + "3" * 32
CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "en-US",
         "timezone_id": "Asia/Bangkok"}


@pytest.fixture(autouse=True)
def _liff_mock(settings):
    settings.LIFF_MOCK = True


@pytest.fixture
def shop(transactional_db):
    brand = factories.brand_with_program(slug="cafe", name="Cafe")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    versions = [publish(brand, "terms", True), publish(brand, "privacy", True, "นโยบาย")]
    member = member_line_login(brand=brand, line_user_id=MEMBER_USER, display_name="Nok")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, first_name="Nok", last_name="Dee",
                                               phone="+66812223355", language="en", registered_at=timezone.now())
    member.refresh_from_db()
    for version in versions:
        consent_record(member=member, version=version, granted=True, channel="liff")
    batch, codes = claim_batch_create(brand=brand, name="Cold brew can", points=10, quantity=3)
    return {"brand": brand, "member": member, "batch": batch, "codes": codes}


def shot(page, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"claims-{step}.png"), full_page=True)


def sign_in_script(fake_line, brand) -> str:
    token = fake_line.mint_id_token(MEMBER_USER, brand.line_login_channel_id, name="LINE user")
    return f"window.__LIFF_MOCK_DATA__ = {json.dumps({'getIDToken': token, 'isLoggedIn': True})};"


def write_label_video(path: Path, url: str | None, *, width=640, height=480, frames=5) -> None:
    """A YUV4MPEG2 4:2:0 video of the printed label's QR for ``url`` (blank when None)."""
    canvas = Image.new("L", (width, height), 255)
    if url is not None:
        label = exports._qr_image(url, exports._qr_version(url)).convert("L")
        canvas.paste(label, ((width - label.width) // 2, (height - label.height) // 2))
    y, cb, cr = canvas.convert("RGB").convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    tmp.replace(path)


@contextlib.contextmanager
def camera_phone(session, playwright_driver, live_server, video: Path):
    """A phone page in a second Chromium whose camera plays ``video`` (outside requests recorded)."""
    args = [*CHROMIUM_ARGS, *CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"]
    camera_browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        context = camera_browser.new_context(base_url=live_server.url, service_workers="block", **PHONE)
        context.grant_permissions(["camera"], origin=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        yield guard(context, session, live_server.url)
        context.close()
    finally:
        camera_browser.close()


def test_a_member_types_a_printed_code_and_gets_the_points(browser, shop, fake_line):
    page = browser.page
    page.context.add_init_script(sign_in_script(fake_line, shop["brand"]))
    page.goto("/liff/cafe/claim/")
    expect(page.locator("body")).to_have_attribute("data-authenticated", "1")
    expect(page.locator("main h2")).to_have_text("Claim a code")
    shot(page, "1-form")

    page.fill("#claim-code", shop["codes"][0].lower().replace("-", " "))
    page.get_by_test_id("claim-submit").click()
    expect(page.get_by_test_id("claim-success")).to_contain_text("+10")
    expect(page.get_by_test_id("claim-balance")).to_have_text("10")
    shot(page, "2-claimed")

    page.fill("#claim-code", "ABCD-EFGH-JKLM-NPQR")
    page.get_by_test_id("claim-submit").click()
    expect(page.get_by_test_id("claim-error")).to_have_text("This code is not valid. Check it and try again.")
    expect(page.locator("#claim-code")).to_have_value("ABCD-EFGH-JKLM-NPQR")
    shot(page, "3-wrong-code")
    assert PointAccount.objects.get(member=shop["member"]).balance == 10
    assert ledger_mismatches() == []
    assert browser.outside_requests == []


def test_a_member_scans_a_printed_label_with_the_camera_and_gets_the_points(browser, shop, fake_line,
                                                                           playwright_driver, live_server, tmp_path):
    video = tmp_path / "camera.y4m"
    url = claim_url(batch=shop["batch"], code=shop["codes"][2])  # what the printed label's QR holds
    write_label_video(video, url)
    with camera_phone(browser, playwright_driver, live_server, video) as page:
        page.context.add_init_script(sign_in_script(fake_line, shop["brand"]))
        page.goto("/liff/cafe/claim/")
        expect(page.locator("body")).to_have_attribute("data-authenticated", "1")
        page.click("#scan-claim")
        expect(page.get_by_test_id("claim-success")).to_contain_text("+10", timeout=30_000)
        shot(page, "4-scanned")
    entry = LedgerEntry.objects.get()
    assert entry.claim_code.number == 3 and entry.account.member == shop["member"]
    assert ledger_mismatches() == []
    assert browser.outside_requests == []
