"""Receipt upload, reading, automatic decision and staff review.

Lock order (every path): the brand's ``ReceiptRule`` row, then the ``Receipt`` row, then
(inside ``purchase_record``) the point accounts. Locking the rule row serialises the
decisions of one brand, so two copies of one receipt decided at the same moment cannot
both pass the duplicate checks; OCR itself runs before, outside any transaction.

- ``receipt_upload`` checks and normalises the image (nothing is written for bad input),
  stores it and queues ``process_receipt`` after commit. Replaying the same form
  (``upload_key``) returns the first receipt.
- ``receipt_process`` (the task's body) claims a queued receipt, runs Tesseract, and
  calls ``_decide``: duplicate → rejected; the brand's rule satisfied → approved (points
  through ``purchase_record``); anything else → needs_review with the reasons.
- ``receipt_approve`` / ``receipt_reject`` are the staff decisions. Approving twice, or a
  receipt number already approved at that store, is refused; rejecting an approved
  receipt refunds its purchase (the points are reversed by new ledger entries).
Decisions emit ``RECEIPT_DECIDED`` on commit (the member is told on LINE).
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, IntegerField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError, ValidationFailed
from loyalty import events
from loyalty.models import Purchase
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import BANGKOK, Channel
from members.models import Branch, Member

from . import parsing
from .errors import (
    ReceiptAlreadyDecided,
    ReceiptDailyLimit,
    ReceiptDuplicate,
    ReceiptIncomplete,
    ReceiptReasonRequired,
    ReceiptUploadsClosed,
)
from .events import RECEIPT_DECIDED
from .images import image_normalise
from .models import PHASH_MAX_DISTANCE, Receipt, ReceiptRule, ReceiptStore

logger = logging.getLogger(__name__)

Status = Receipt.Status
STALE_PROCESSING = timedelta(minutes=10)
DUPLICATE_REASON = "Duplicate of receipt #%(id)s"


class ReceiptNotReady(DomainError):
    code = "receipt_not_ready"
    message = _("This receipt is still being read. Try again in a moment.")


def receipt_rule_get(*, brand) -> ReceiptRule:
    """The brand's rule, created with the defaults (review everything) the first time."""
    rule, _created = ReceiptRule.objects.get_or_create(brand=brand)
    return rule


def _bangkok_midnight(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now(), BANGKOK)
    return datetime.combine(local.date(), time.min, tzinfo=BANGKOK)


def _bangkok_today() -> date:
    return timezone.localtime(timezone.now(), BANGKOK).date()


# --- upload ------------------------------------------------------------------------------------


def receipt_upload(*, member: Member, upload, upload_key: str) -> Receipt:
    """Store a member's receipt photo and queue its reading.

    Validates the image first (``ReceiptImageInvalid``: nothing stored). Locks the member
    row so the daily upload limit (``ReceiptDailyLimit``) holds under concurrent uploads.
    The same ``upload_key`` (one per form) returns the receipt it created, whatever the
    file. Raises ``ReceiptUploadsClosed`` when the brand turned uploads off.
    """
    try:
        upload_key = str(uuid.UUID(str(upload_key)))
    except ValueError as error:
        raise ValidationFailed(fields={"upload_key": ["Reload the page and try again."]}) from error
    existing = Receipt.objects.filter(member=member, upload_key=upload_key).first()
    if existing is not None:
        return existing
    rule = receipt_rule_get(brand=member.brand)
    if not rule.is_active:
        raise ReceiptUploadsClosed()
    image = image_normalise(upload)
    receipt = Receipt(brand=member.brand, member=member, upload_key=upload_key, sha256=image.sha256,
                      phash=image.phash, image_width=image.width, image_height=image.height)
    receipt.image.save("receipt.jpg", ContentFile(image.jpeg), save=False)
    try:
        with transaction.atomic():
            Member.objects.select_for_update().filter(pk=member.pk).first()
            existing = Receipt.objects.filter(member=member, upload_key=upload_key).first()
            if existing is not None:
                receipt.image.delete(save=False)
                return existing
            today = Receipt.objects.filter(member=member, created_at__gte=_bangkok_midnight()).count()
            if today >= rule.max_uploads_per_day:
                raise ReceiptDailyLimit()
            receipt.save()
            _enqueue(receipt.pk)
    except IntegrityError:
        receipt.image.delete(save=False)
        existing = Receipt.objects.filter(member=member, upload_key=upload_key).first()
        if existing is None:
            raise
        return existing
    except BaseException:
        receipt.image.delete(save=False)
        raise
    return receipt


def _enqueue(receipt_id: int) -> None:
    from .tasks import process_receipt

    transaction.on_commit(lambda: process_receipt.delay(receipt_id))


# --- reading and the automatic decision --------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    parsed: parsing.ParsedReceipt
    text: str
    seconds: float | None


def receipt_process(*, receipt_id: int, final_attempt: bool = True) -> Receipt | None:
    """Read a queued receipt and decide it. Idempotent: a receipt already read is returned as it is.

    Claims the receipt with a conditional update (``queued`` → ``processing``; a
    ``processing`` claim older than ten minutes is taken over), runs OCR outside any
    transaction, then decides under the rule and receipt locks. When Tesseract cannot run,
    raises ``OcrUnavailable`` for a retry (the receipt goes back to ``queued``), or on the
    final attempt sends the receipt to staff.
    """
    from .ocr import OcrUnavailable, ocr_image

    now = timezone.now()
    claimed = Receipt.objects.filter(pk=receipt_id).filter(
        Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, processing_started_at__lt=now - STALE_PROCESSING)
    ).update(status=Status.PROCESSING, processing_started_at=now, attempts=F("attempts") + 1, updated_at=now)
    receipt = Receipt.objects.select_related("brand", "member").filter(pk=receipt_id).first()
    if not claimed or receipt is None:
        return receipt
    try:
        from PIL import Image

        with receipt.image.open("rb") as handle, Image.open(handle) as image:
            result = ocr_image(image)
    except OcrUnavailable:
        if not final_attempt:
            Receipt.objects.filter(pk=receipt_id, status=Status.PROCESSING).update(status=Status.QUEUED)
            raise
        logger.exception("receipt %s: OCR failed; sending it to staff", receipt_id)
        reading = Reading(parsing.ParsedReceipt(), "", None)
        return _decide(receipt_id, reading, extra_reasons=["ocr_failed"])
    stores = list(ReceiptStore.objects.filter(brand=receipt.brand, is_active=True))
    parsed = parsing.receipt_parse(
        result.lines, stores=[parsing.StoreName(key=store.pk, names=store.names()) for store in stores],
        today=timezone.localtime(receipt.created_at, BANGKOK).date(),
    )
    return _decide(receipt_id, Reading(parsed, result.text, result.seconds))


def _store_key(*, store: ReceiptStore | None, branch: Branch | None, store_text: str) -> str:
    if store is not None:
        return f"store:{store.pk}"
    if branch is not None:
        return f"branch:{branch.pk}"
    squashed = parsing.squash_name(store_text)
    return f"text:{squashed}"[:200] if squashed else ""


def normalise_number(value: str) -> str:
    return "".join(str(value or "").split()).upper()[:64]


def _lock(receipt_id: int) -> tuple[ReceiptRule, Receipt]:
    """Lock the brand's rule row, then the receipt (the one lock order of this app)."""
    brand_id = Receipt.objects.filter(pk=receipt_id).values_list("brand_id", flat=True).first()
    if brand_id is None:
        raise Receipt.DoesNotExist(receipt_id)
    ReceiptRule.objects.get_or_create(brand_id=brand_id)
    rule = ReceiptRule.objects.select_for_update().get(brand_id=brand_id)
    receipt = Receipt.objects.select_for_update().get(pk=receipt_id)
    return rule, receipt


def _decide(receipt_id: int, reading: Reading, extra_reasons: list[str] | None = None) -> Receipt:
    with transaction.atomic():
        rule, receipt = _lock(receipt_id)
        if receipt.status != Status.PROCESSING:
            return receipt  # decided meanwhile (staff, or a faster worker)
        parsed = reading.parsed
        store = ReceiptStore.objects.select_related("branch").filter(pk=parsed.store_key).first() \
            if parsed.store_key is not None else None
        receipt.store, receipt.store_text = store, parsed.store_text[:200]
        receipt.branch = store.branch if store else None
        receipt.receipt_date, receipt.total = parsed.receipt_date, parsed.total
        receipt.receipt_number = normalise_number(parsed.receipt_number)
        confidence = parsed.confidence
        receipt.store_confidence = confidence.get("store")
        receipt.date_confidence = confidence.get("date")
        receipt.number_confidence = confidence.get("number")
        receipt.total_confidence = confidence.get("total")
        receipt.ocr_text, receipt.ocr_seconds = reading.text, reading.seconds
        receipt.store_key = _store_key(store=store, branch=receipt.branch, store_text=receipt.store_text)

        duplicate = _duplicate_image(receipt) or _duplicate_number(receipt)
        if duplicate is not None:
            return _finish_rejected(receipt, duplicate_of=duplicate)
        reasons = (extra_reasons or []) + _review_reasons(receipt, rule)
        if not reasons:
            try:
                with transaction.atomic():
                    return _approve_locked(receipt, staff_user=None)
            except ReceiptDuplicate:
                reasons = ["number_already_approved"]
            except DomainError as error:
                reasons = [error.code]
            receipt.purchase, receipt.decided_by, receipt.decided_at = None, None, None
        receipt.status, receipt.review_reasons = Status.NEEDS_REVIEW, reasons
        receipt.save()
        return receipt


def _duplicate_image(receipt: Receipt) -> Receipt | None:
    """An approved, or earlier still-pending, receipt of the brand whose image is (nearly) the same."""
    candidates = Receipt.objects.filter(brand_id=receipt.brand_id).exclude(pk=receipt.pk).filter(
        Q(status=Status.APPROVED) | Q(status__in=Receipt.PENDING, pk__lt=receipt.pk))
    exact = candidates.filter(sha256=receipt.sha256).order_by("pk").first()
    if exact is not None:
        return exact  # the same file: a copy, whatever was read from it
    if receipt.receipt_number:
        # Receipts from one till share their layout, so their fingerprints are close: a near-identical
        # image only counts as a copy of a receipt with the same number (or one whose number was not read).
        candidates = candidates.filter(Q(receipt_number="") | Q(receipt_number=receipt.receipt_number))
    same = candidates.filter(phash=receipt.phash).order_by("pk").first()
    if same is not None:
        return same
    if connection.vendor == "postgresql":
        column = f'"{Receipt._meta.db_table}"."phash"'
        distance = RawSQL(f"bit_count(('x' || {column})::bit(64) # ('x' || %s)::bit(64))", (receipt.phash,),  # noqa: S611
                          output_field=IntegerField())
        return (candidates.filter(phash__regex=r"^[0-9a-f]{16}$").annotate(distance=distance)
                .filter(distance__lte=PHASH_MAX_DISTANCE).order_by("distance", "pk").first())
    mine = int(receipt.phash, 16)
    for pk, phash in candidates.order_by("pk").values_list("pk", "phash").iterator():
        if len(phash) == 16 and (int(phash, 16) ^ mine).bit_count() <= PHASH_MAX_DISTANCE:
            return Receipt.objects.get(pk=pk)
    return None


def _duplicate_number(receipt: Receipt) -> Receipt | None:
    """An approved receipt with the same number at the same store (the member may differ)."""
    if not receipt.receipt_number or not receipt.store_key:
        return None
    return Receipt.objects.filter(brand_id=receipt.brand_id, status=Status.APPROVED, store_key=receipt.store_key,
                                  receipt_number=receipt.receipt_number).exclude(pk=receipt.pk).first()


def _review_reasons(receipt: Receipt, rule: ReceiptRule) -> list[str]:
    """Why the rule does not let this receipt through on its own (empty: approve it)."""
    reasons = []
    if not rule.auto_approve:
        reasons.append("auto_approve_off")
    if receipt.store is None:
        reasons.append("store_unknown")
    for name, value, confidence in (("total", receipt.total, receipt.total_confidence),
                                    ("date", receipt.receipt_date, receipt.date_confidence),
                                    ("number", receipt.receipt_number, receipt.number_confidence)):
        if value in (None, ""):
            reasons.append(f"{name}_unread")
        elif (confidence or 0) < rule.min_confidence:
            reasons.append(f"{name}_unsure")
    uploaded = timezone.localtime(receipt.created_at, BANGKOK).date()
    if receipt.receipt_date:
        if receipt.receipt_date > uploaded:
            reasons.append("date_in_future")
        elif (uploaded - receipt.receipt_date).days > rule.max_age_days:
            reasons.append("too_old")
    if receipt.total is not None and (receipt.total <= 0 or receipt.total > rule.max_total):
        reasons.append("total_out_of_limits")
    approved_today = Receipt.objects.filter(member_id=receipt.member_id, status=Status.APPROVED,
                                            decided_by__isnull=True, decided_at__gte=_bangkok_midnight()).count()
    if approved_today >= rule.max_auto_approved_per_day:
        reasons.append("daily_limit")
    earlier_same_number = receipt.receipt_number and Receipt.objects.filter(
        brand_id=receipt.brand_id, status__in=Receipt.PENDING, store_key=receipt.store_key,
        receipt_number=receipt.receipt_number, pk__lt=receipt.pk).exists()
    if earlier_same_number:
        reasons.append("number_pending_elsewhere")
    return reasons


def _finish_rejected(receipt: Receipt, *, duplicate_of: Receipt) -> Receipt:
    receipt.status, receipt.duplicate_of = Status.REJECTED, duplicate_of
    receipt.reason = DUPLICATE_REASON % {"id": duplicate_of.pk}
    receipt.review_reasons = ["duplicate"]
    receipt.decided_at = timezone.now()
    receipt.save()
    events.emit(RECEIPT_DECIDED, receipt_id=receipt.pk, status=receipt.status)
    return receipt


def _purchased_at(receipt_date: date) -> datetime:
    return min(datetime.combine(receipt_date, time(12), tzinfo=BANGKOK), timezone.now())


def _approve_locked(receipt: Receipt, *, staff_user) -> Receipt:
    """Approve a receipt whose rule and row the caller locked: record the purchase, then the status.

    Raises ``ReceiptIncomplete``, ``ReceiptDuplicate`` (the number was approved at this store,
    by anyone), ``MemberInactive`` from ``purchase_record``.
    """
    if receipt.total is None or receipt.receipt_date is None or not receipt.receipt_number or not receipt.store_key:
        raise ReceiptIncomplete()
    base_order_id = f"receipt:{receipt.store_key}:{receipt.receipt_number}"[:90]
    earlier = Purchase.objects.filter(brand_id=receipt.brand_id, channel=Channel.RECEIPT,
                                      order_id__startswith=base_order_id)
    if _duplicate_number(receipt) is not None or earlier.exclude(status=Purchase.Status.REFUNDED).exists():
        raise ReceiptDuplicate()
    # A receipt approved, rejected (its purchase refunded) and approved again earns as a new purchase.
    attempts = earlier.count()
    order_id = base_order_id if attempts == 0 else f"{base_order_id}#{attempts + 1}"
    result = purchase_record(
        brand=receipt.brand, member=receipt.member, channel=Channel.RECEIPT, order_id=order_id,
        total=receipt.total, lines=[LineInput(amount=receipt.total, category="receipt")],
        purchased_at=_purchased_at(receipt.receipt_date), branch=receipt.branch,
    )
    receipt.purchase = result.purchase
    receipt.status, receipt.review_reasons, receipt.reason = Status.APPROVED, [], ""
    receipt.decided_by, receipt.decided_at = staff_user, timezone.now()
    receipt.duplicate_of = None
    try:
        with transaction.atomic():
            receipt.save()
    except IntegrityError as error:  # the unique (brand, store, number) among approved receipts
        raise ReceiptDuplicate() from error
    events.emit(RECEIPT_DECIDED, receipt_id=receipt.pk, status=receipt.status)
    return receipt


# --- staff decisions -------------------------------------------------------------------------------


def _money(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError) as error:
        raise ValidationFailed(fields={"total": ["Enter an amount."]}) from error
    if amount < 0:
        raise ValidationFailed(fields={"total": ["Must be zero or more."]})
    return amount


def receipt_approve(*, receipt: Receipt, total, receipt_date: date, receipt_number: str, branch: Branch | None,
                    staff_user, store: ReceiptStore | None = None) -> Receipt:
    """Staff approve a receipt with the fields as corrected; the member earns through the earn rules.

    Locks the brand's rule, then the receipt. Refuses an approved receipt
    (``ReceiptAlreadyDecided``), one still being read (``ReceiptNotReady``), a number
    already approved at the same store (``ReceiptDuplicate``), and missing fields
    (``ReceiptIncomplete``). A rejected receipt may be approved (staff overrule).
    """
    total = _money(total)
    number = normalise_number(receipt_number)
    if receipt_date is None or not number:
        raise ReceiptIncomplete()
    for related in (store, branch):
        if related is not None and related.brand_id != receipt.brand_id:
            raise ValidationFailed(fields={"branch": ["Choose one of the brand's own."]})
    try:
        with transaction.atomic():
            _rule, locked = _lock(receipt.pk)
            if locked.status == Status.APPROVED:
                raise ReceiptAlreadyDecided()
            if locked.status in (Status.QUEUED, Status.PROCESSING):
                raise ReceiptNotReady()
            locked.total, locked.receipt_date, locked.receipt_number = total, receipt_date, number
            locked.store = store if store is not None else locked.store
            locked.branch = branch if branch is not None else (locked.store.branch if locked.store else None)
            locked.store_key = _store_key(store=locked.store, branch=locked.branch, store_text=locked.store_text)
            return _approve_locked(locked, staff_user=staff_user)
    except IntegrityError as error:
        raise ReceiptDuplicate() from error


def receipt_reject(*, receipt: Receipt, reason: str, staff_user) -> Receipt:
    """Staff reject a receipt with a required reason the member will read.

    Locks the rule, then the receipt. An approved receipt's purchase is refunded in full
    (points reversed by new ledger entries; what was already spent is recorded as a
    shortfall, never taken below zero). Raises ``ReceiptReasonRequired``,
    ``ReceiptAlreadyDecided`` (already rejected).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReceiptReasonRequired(fields={"reason": [str(ReceiptReasonRequired.message)]})
    with transaction.atomic():
        _rule, locked = _lock(receipt.pk)
        if locked.status == Status.REJECTED:
            raise ReceiptAlreadyDecided()
        if locked.status == Status.APPROVED and locked.purchase_id:
            purchase = Purchase.objects.get(pk=locked.purchase_id)
            if purchase.refunded_total < purchase.total:
                purchase_refund(brand=locked.brand, purchase_id=purchase.pk, refund_id=f"receipt-rejected:{locked.pk}")
        locked.status, locked.reason = Status.REJECTED, reason[:2000]
        locked.decided_by, locked.decided_at = staff_user, timezone.now()
        locked.save()
        events.emit(RECEIPT_DECIDED, receipt_id=locked.pk, status=locked.status)
    return locked
