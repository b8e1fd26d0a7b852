"""The member's receipt page (upload, errors, status, own images only), the admin review queue, LINE."""

import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from loyalty.models import LedgerEntry
from loyalty.receipts.models import Receipt, ReceiptRule
from loyalty.receipts.services import receipt_upload
from loyalty.services.verification import ledger_mismatches
from messaging.models import OutboundMessage
from tests import factories
from tests.receipts.conftest import receipt, receipt_jpeg
from tests.receipts.test_images import png_bomb

Status = Receipt.Status


def post_receipt(client, brand, data: bytes, name: str = "receipt.jpg", key: str | None = None):
    return client.post(f"/liff/{brand.slug}/receipts/", {
        "upload_key": key or str(uuid.uuid4()), "image": SimpleUploadedFile(name, data, content_type="image/jpeg")})


def test_a_member_uploads_a_receipt_from_the_portal_and_sees_it_approved(
        client, shopper, receipt_brand, django_capture_on_commit_callbacks, fake_line):
    page = client.get(f"/liff/{receipt_brand.slug}/receipts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'accept="image/*"' in html and 'capture="environment"' in html and "No receipts yet" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = post_receipt(client, receipt_brand, receipt_jpeg(receipt(number="820001", total="1250.00")))
    assert response.status_code == 302 and "?uploaded=" in response["Location"]
    shown = client.get(response["Location"]).content.decode()
    created = Receipt.objects.get()
    assert created.status == Status.APPROVED
    assert "Approved: you earned 50 points." in shown and f'data-testid="receipt-{created.pk}"' in shown
    assert "1,250.00" in shown
    # The member is told on LINE, in their language, once (besides the points-earned notice).
    templates = sorted(OutboundMessage.objects.values_list("template", flat=True))
    assert templates == ["points_earned", "receipt_approved"]
    decided = [m for m in fake_line.inbox(shopper.line_user_id) if "receipt was approved" in m["altText"]]
    assert len(decided) == 1 and "50 points" in decided[0]["altText"]

    status = client.get(f"/liff/{receipt_brand.slug}/receipts/status/").json()
    assert status == {"in_progress": False, "receipts": [{"id": created.pk, "status": "approved"}]}
    image = client.get(f"/liff/{receipt_brand.slug}/receipts/{created.pk}/image/")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"
    assert ledger_mismatches() == []


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"just some text, not a photo" * 20, "receipt.jpg", "not a photo we can read"),
    (png_bomb(), "bomb.png", "too many pixels"),
])
def test_bad_uploads_show_a_clear_error_and_write_nothing(client, shopper, receipt_brand, settings, data, name,
                                                          message):
    response = post_receipt(client, receipt_brand, data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Receipt.objects.exists()
    assert not (settings.MEDIA_ROOT / "receipts").exists()


def test_an_oversized_upload_is_refused(client, shopper, receipt_brand):
    response = post_receipt(client, receipt_brand, b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 400 and "larger than 10 MB" in response.content.decode()
    assert not Receipt.objects.exists()


def test_the_same_form_submitted_twice_creates_one_receipt(client, shopper, receipt_brand):
    ReceiptRule.objects.filter(brand=receipt_brand).update(auto_approve=False)
    key, jpeg = str(uuid.uuid4()), receipt_jpeg(receipt(number="830001"))
    first = post_receipt(client, receipt_brand, jpeg, key=key)
    second = post_receipt(client, receipt_brand, jpeg, key=key)
    assert first["Location"] == second["Location"] and Receipt.objects.count() == 1


def test_members_see_only_their_own_receipts_and_images(client, shopper, other_shopper, receipt_brand):
    ReceiptRule.objects.filter(brand=receipt_brand).update(auto_approve=False)
    theirs = receipt_upload(member=other_shopper, upload=receipt_jpeg(receipt(number="840001")),
                            upload_key=str(uuid.uuid4()))
    assert client.get(f"/liff/{receipt_brand.slug}/receipts/{theirs.pk}/image/").status_code == 404
    assert f"receipt-{theirs.pk}" not in client.get(f"/liff/{receipt_brand.slug}/receipts/").content.decode()


def test_without_a_session_the_page_asks_liff_to_sign_in(client, receipt_brand):
    response = client.get(f"/liff/{receipt_brand.slug}/receipts/")
    assert response.status_code == 200 and b'data-authenticated="0"' in response.content
    assert client.get(f"/liff/{receipt_brand.slug}/receipts/1/image/").status_code == 200  # the sign-in page


@pytest.fixture
def waiting(shopper, receipt_brand, django_capture_on_commit_callbacks):
    ReceiptRule.objects.filter(brand=receipt_brand).update(auto_approve=False)
    with django_capture_on_commit_callbacks(execute=True):
        created = receipt_upload(member=shopper, upload=receipt_jpeg(receipt(number="850001", total="480.00")),
                                 upload_key=str(uuid.uuid4()))
    created.refresh_from_db()
    assert created.status == Status.NEEDS_REVIEW
    return created


def test_staff_review_queue_lists_waiting_receipts_first_and_approves_with_corrections(
        client, waiting, receipt_brand, django_capture_on_commit_callbacks, fake_line):
    staff = factories.staff_user(brands=[receipt_brand])
    older_decided = receipt_upload(member=waiting.member, upload=receipt_jpeg(receipt(number="850002")),
                                   upload_key=str(uuid.uuid4()))
    Receipt.objects.filter(pk=older_decided.pk).update(status=Status.REJECTED, reason="blurry")
    client.force_login(staff)
    listing = client.get("/admin/receipts/receipt/").content.decode()
    assert listing.index(f"/admin/receipts/receipt/{waiting.pk}/change/") < listing.index(
        f"/admin/receipts/receipt/{older_decided.pk}/change/")

    page = client.get(f"/admin/receipts/receipt/{waiting.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and f"/admin/receipts/receipt/{waiting.pk}/image/" in html
    assert "automatic approval is off" in html and 'name="_approve"' in html and 'value="850001"' in html
    assert client.get(f"/admin/receipts/receipt/{waiting.pk}/image/")["Content-Type"] == "image/jpeg"

    form = {"store": waiting.store_id, "branch": "", "receipt_date": waiting.receipt_date.isoformat(),
            "receipt_number": "850001", "total": "500.00", "reason": "", "_approve": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/receipts/receipt/{waiting.pk}/change/", form)
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.status, waiting.total, waiting.decided_by, waiting.purchase.points_earned) == (
        Status.APPROVED, Decimal("500.00"), staff, 20)
    # Approving again is refused with a message, and nothing more is earned.
    again = client.post(f"/admin/receipts/receipt/{waiting.pk}/change/", form)
    assert again.status_code == 400 and "already been decided" in again.content.decode()
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    assert ledger_mismatches() == []


def test_staff_reject_with_a_required_reason_and_the_member_is_told_on_line(
        client, waiting, receipt_brand, django_capture_on_commit_callbacks, fake_line):
    client.force_login(factories.staff_user(brands=[receipt_brand]))
    url = f"/admin/receipts/receipt/{waiting.pk}/change/"
    form = {"receipt_number": "850001", "total": "480.00", "reason": "", "_reject": "1"}
    missing = client.post(url, form)
    assert missing.status_code == 400 and "A reason is required" in missing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**form, "reason": "The total is not readable"})
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason) == (Status.REJECTED, "The total is not readable")
    (notice,) = fake_line.inbox(waiting.member.line_user_id)
    assert notice["altText"] == "We could not accept your receipt: The total is not readable"
    assert notice["contents"]["footer"]["contents"][0]["action"]["uri"].endswith("/receipts/")


def test_staff_of_another_brand_see_no_receipts_and_no_images(client, waiting, other_brand):
    client.force_login(factories.staff_user(brands=[other_brand], username="other-staff"))
    assert client.get(f"/admin/receipts/receipt/{waiting.pk}/change/").status_code == 404
    assert client.get(f"/admin/receipts/receipt/{waiting.pk}/image/").status_code == 404
    assert f"/receipt/{waiting.pk}/" not in client.get("/admin/receipts/receipt/").content.decode()
