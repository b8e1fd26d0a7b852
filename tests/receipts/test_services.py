"""Upload → OCR task → decision: auto-approval earns once, duplicates never earn, staff review, limits."""

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import imagehash
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from loyalty.models import LedgerEntry, PointAccount, Purchase
from loyalty.receipts import ocr as ocr_module
from loyalty.receipts.errors import (
    ReceiptAlreadyDecided,
    ReceiptDailyLimit,
    ReceiptDuplicate,
    ReceiptImageInvalid,
    ReceiptReasonRequired,
)
from loyalty.receipts.models import PHASH_MAX_DISTANCE, Receipt, ReceiptRule
from loyalty.receipts.services import receipt_approve, receipt_process, receipt_reject, receipt_upload
from loyalty.receipts.tasks import process_receipt
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.receipts.conftest import receipt, receipt_jpeg

Status = Receipt.Status


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Upload as the portal does; the OCR task runs after commit (eagerly, as without a broker)."""

    def send(member, jpeg: bytes, key: str | None = None) -> Receipt:
        with django_capture_on_commit_callbacks(execute=True):
            created = receipt_upload(member=member, upload=SimpleUploadedFile("receipt.jpg", jpeg),
                                     upload_key=key or str(uuid.uuid4()))
        created.refresh_from_db()
        return created

    return send


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def phash_distance(first: bytes, second: bytes) -> int:
    import io

    from PIL import Image

    return imagehash.phash(Image.open(io.BytesIO(first))) - imagehash.phash(Image.open(io.BytesIO(second)))


def test_a_clear_receipt_is_read_and_approved_automatically_and_earns_once(upload, shopper, receipt_brand):
    jpeg = receipt_jpeg(receipt(number="000123", total="1250.00"))
    key = str(uuid.uuid4())
    approved = upload(shopper, jpeg, key)
    assert approved.status == Status.APPROVED, (approved.review_reasons, approved.ocr_text)
    assert (approved.total, approved.receipt_number, approved.receipt_date) == (
        Decimal("1250.00"), "000123", timezone.localdate())
    assert approved.store.name == "แต้มคาเฟ่ สาขาสยาม" and approved.branch.code == "SIAM"
    assert min(approved.total_confidence, approved.date_confidence, approved.number_confidence) >= 70
    purchase = approved.purchase
    assert (purchase.channel, purchase.total, purchase.points_earned, purchase.branch) == (
        "receipt", Decimal("1250.00"), 50, approved.branch)
    assert purchase.order_id == f"receipt:store:{approved.store_id}:000123"
    assert balance(shopper) == 50

    # The same form posted again, and the task delivered again: nothing new.
    assert upload(shopper, jpeg, key).pk == approved.pk
    process_receipt.delay(approved.pk)
    receipt_process(receipt_id=approved.pk)
    assert Receipt.objects.count() == 1 and Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1 and balance(shopper) == 50
    assert ledger_mismatches() == []


def test_the_same_receipt_number_at_the_same_store_cannot_earn_twice_across_members(
        upload, shopper, other_shopper, receipt_brand):
    first_jpeg = receipt_jpeg(receipt(number="552211", total="480.50"))
    # Another photo of "the same" receipt: different font and layout, so only the number can tell.
    second_sample = receipt(number="552211", total="480.50", font="Loma.ttf")
    second_jpeg = receipt_jpeg(second_sample, width=600)
    assert phash_distance(first_jpeg, second_jpeg) > PHASH_MAX_DISTANCE
    first = upload(shopper, first_jpeg)
    second = upload(other_shopper, second_jpeg)
    assert first.status == Status.APPROVED
    assert (second.status, second.duplicate_of, second.review_reasons) == (Status.REJECTED, first, ["duplicate"])
    assert balance(other_shopper) == 0 and Purchase.objects.count() == 1
    # Staff cannot approve it either: the number is approved at this store.
    with pytest.raises(ReceiptDuplicate):
        receipt_approve(receipt=second, total="480.50", receipt_date=second.receipt_date, receipt_number="552211",
                        branch=None, staff_user=factories.staff_user(brands=[receipt_brand]))
    assert ledger_mismatches() == []


def test_a_near_identical_image_is_rejected_across_members_even_while_the_first_waits(
        upload, shopper, other_shopper, receipt_brand):
    ReceiptRule.objects.filter(brand=receipt_brand).update(auto_approve=False)
    sample = receipt(number="771100", total="99.00")
    original = receipt_jpeg(sample)
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(original))
    resized = image.resize((int(image.width * 0.9), int(image.height * 0.9)))
    copy = io.BytesIO()
    resized.save(copy, format="JPEG", quality=60)
    copy_jpeg = copy.getvalue()
    assert copy_jpeg != original and phash_distance(original, copy_jpeg) <= PHASH_MAX_DISTANCE
    first = upload(shopper, original)
    assert first.status == Status.NEEDS_REVIEW and first.review_reasons == ["auto_approve_off"], first.ocr_text
    second = upload(other_shopper, copy_jpeg)
    assert (second.status, second.duplicate_of) == (Status.REJECTED, first)
    assert "Duplicate" in second.reason


def test_receipts_outside_the_rule_wait_for_staff_with_the_reasons(upload, shopper, receipt_brand):
    old_and_big = receipt(store="ร้านลึกลับไม่มีในระบบ", number="900001", total="9,999.00".replace(",", ""),
                          day=timezone.localdate() - timedelta(days=30))
    waiting = upload(shopper, receipt_jpeg(old_and_big))
    assert waiting.status == Status.NEEDS_REVIEW
    assert {"store_unknown", "too_old", "total_out_of_limits"} <= set(waiting.review_reasons)
    assert waiting.total == Decimal("9999.00") and waiting.purchase is None and balance(shopper) == 0


def test_staff_approve_with_corrected_fields_once_and_reject_needs_a_reason(upload, shopper, receipt_brand):
    ReceiptRule.objects.filter(brand=receipt_brand).update(auto_approve=False)
    staff = factories.staff_user(brands=[receipt_brand])
    waiting = upload(shopper, receipt_jpeg(receipt(number="123450", total="300.00")))
    assert waiting.status == Status.NEEDS_REVIEW
    ari = receipt_brand.branches.get(code="ARI")
    approved = receipt_approve(receipt=waiting, total=Decimal("350.00"), receipt_date=waiting.receipt_date,
                               receipt_number=" 123450-b ", branch=ari, staff_user=staff)
    assert (approved.status, approved.total, approved.receipt_number, approved.branch, approved.decided_by) == (
        Status.APPROVED, Decimal("350.00"), "123450-B", ari, staff)
    assert approved.purchase.points_earned == 14 and balance(shopper) == 14
    with pytest.raises(ReceiptAlreadyDecided):
        receipt_approve(receipt=waiting, total=Decimal("350.00"), receipt_date=waiting.receipt_date,
                        receipt_number="123450-B", branch=ari, staff_user=staff)
    with pytest.raises(ReceiptReasonRequired):
        receipt_reject(receipt=approved, reason="  ", staff_user=staff)
    # Rejecting an approved receipt reverses its points with new entries.
    rejected = receipt_reject(receipt=approved, reason="Receipt of another shop", staff_user=staff)
    assert (rejected.status, rejected.reason) == (Status.REJECTED, "Receipt of another shop")
    assert balance(shopper) == 0
    assert list(LedgerEntry.objects.order_by("id").values_list("kind", "amount")) == [("earn", 14), ("reverse", -14)]
    with pytest.raises(ReceiptAlreadyDecided):
        receipt_reject(receipt=rejected, reason="again", staff_user=staff)
    # Staff overrule their rejection: the receipt earns again, as a new purchase, once.
    again = receipt_approve(receipt=rejected, total=Decimal("350.00"), receipt_date=waiting.receipt_date,
                            receipt_number="123450-B", branch=ari, staff_user=staff)
    assert again.status == Status.APPROVED and balance(shopper) == 14
    assert again.purchase.order_id.endswith("#2")
    assert ledger_mismatches() == []


def test_automatic_approvals_per_member_per_day_are_capped(upload, shopper, receipt_brand):
    ReceiptRule.objects.filter(brand=receipt_brand).update(max_auto_approved_per_day=1)
    first = upload(shopper, receipt_jpeg(receipt(number="310001", total="100.00")))
    second = upload(shopper, receipt_jpeg(receipt(number="310002", total="200.00", font="Loma.ttf"), width=600))
    assert first.status == Status.APPROVED
    assert second.status == Status.NEEDS_REVIEW and second.review_reasons == ["daily_limit"]


def test_uploads_per_day_are_limited_and_a_refused_upload_writes_nothing(upload, shopper, receipt_brand, settings):
    ReceiptRule.objects.filter(brand=receipt_brand).update(max_uploads_per_day=1, auto_approve=False)
    upload(shopper, receipt_jpeg(receipt(number="410001")))
    with pytest.raises(ReceiptDailyLimit):
        upload(shopper, receipt_jpeg(receipt(number="410002")))
    with pytest.raises(ReceiptImageInvalid):
        upload(shopper, b"not an image at all")
    assert Receipt.objects.count() == 1
    stored = [path for path in (settings.MEDIA_ROOT / "receipts").rglob("*") if path.is_file()]
    assert len(stored) == 1


def test_when_tesseract_cannot_run_the_task_retries_then_sends_the_receipt_to_staff(
        shopper, receipt_brand, monkeypatch):
    created = receipt_upload(member=shopper, upload=receipt_jpeg(receipt(number="510001")),
                             upload_key=str(uuid.uuid4()))  # not processed: no on-commit run

    def broken(image):
        raise ocr_module.OcrUnavailable("tesseract is not installed")

    monkeypatch.setattr(ocr_module, "ocr_image", broken)
    with pytest.raises(ocr_module.OcrUnavailable):
        receipt_process(receipt_id=created.pk, final_attempt=False)
    created.refresh_from_db()
    assert created.status == Status.QUEUED and created.attempts == 1
    receipt_process(receipt_id=created.pk, final_attempt=True)
    created.refresh_from_db()
    assert created.status == Status.NEEDS_REVIEW and "ocr_failed" in created.review_reasons


def test_the_database_refuses_a_second_approved_receipt_with_one_number_at_one_store(upload, shopper):
    from django.db import IntegrityError, transaction

    from loyalty.services.earning import LineInput, purchase_record

    first = upload(shopper, receipt_jpeg(receipt(number="610001", total="50.00")))
    assert first.status == Status.APPROVED
    other_purchase = purchase_record(brand=first.brand, member=shopper, channel="pos", order_id="POS-1",
                                     total=Decimal("50.00"), lines=[LineInput(amount=Decimal("50.00"))],
                                     purchased_at=timezone.now()).purchase
    clone = Receipt.objects.get(pk=first.pk)
    clone.pk, clone.upload_key, clone.purchase, clone.status = None, str(uuid.uuid4()), None, Status.NEEDS_REVIEW
    clone.save()
    with pytest.raises(IntegrityError, match="receipt_number_approved_once_per_store"), transaction.atomic():
        Receipt.objects.filter(pk=clone.pk).update(status=Status.APPROVED, purchase=other_purchase)


@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_the_same_receipt_at_once_credit_it_once(fake_line, settings, tmp_path):
    from tests.receipts.conftest import _active

    settings.MEDIA_ROOT = tmp_path / "media"
    brand = factories.brand_with_program(slug="race")
    ReceiptRule.objects.create(brand=brand, auto_approve=False)
    member = _active(factories.MemberFactory(brand=brand))
    waiting = receipt_upload(member=member, upload=receipt_jpeg(receipt(number="710001", total="500.00")),
                             upload_key=str(uuid.uuid4()))
    waiting.refresh_from_db()
    assert waiting.status == Status.NEEDS_REVIEW  # no stores known: read, then queued for staff
    staff = [factories.staff_user(brands=[brand], username=f"staff-{i}") for i in range(2)]
    barrier, outcomes = threading.Barrier(2), []

    def approve(user):
        barrier.wait()
        try:
            receipt_approve(receipt=waiting, total="500.00", receipt_date=waiting.receipt_date,
                            receipt_number="710001", branch=brand.branches.first(), staff_user=user)
            outcomes.append("approved")
        except ReceiptAlreadyDecided:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "approved"]
    assert LedgerEntry.objects.filter(kind="earn").count() == 1 and balance(member) == 20
    assert ledger_mismatches() == []
