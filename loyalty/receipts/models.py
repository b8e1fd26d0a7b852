"""Receipt photos members upload, what OCR read on them, and how each was decided.

Design overview
- ``ReceiptRule`` (one per brand) says when a receipt may be approved without staff:
  auto-approval on, total/date/number read with at least ``min_confidence``, store
  recognised, total at most ``max_total``, receipt at most ``max_age_days`` old, and the
  member under ``max_auto_approved_per_day`` today. Anything else waits for staff.
- ``ReceiptStore`` maps the names a store prints (and their aliases) to a brand's branch.
- ``Receipt`` moves ``queued → processing → approved | needs_review | rejected`` (staff
  decide ``needs_review``, and may overrule a rejection). Only the services in
  ``loyalty.receipts.services`` change its status, under a row lock.
- An approved receipt earns through ``loyalty.services.earning.purchase_record`` as a
  purchase of channel ``receipt`` (order ID ``receipt:<store>:<number>``): the earn rules
  apply, the ledger stays the truth, and a refund reverses it like any purchase.
- Duplicates cannot earn twice, across members: the database refuses a second approved
  receipt with the same ``(brand, store_key, receipt_number)`` (and the purchase's own
  ``(brand, channel, order_id)`` constraint backs it); a near-identical image (perceptual
  hash within ``PHASH_MAX_DISTANCE`` bits of an approved or earlier pending receipt of the
  brand) is rejected as a duplicate.
- Images are stored normalised (EXIF rotation applied, RGB JPEG) under
  ``MEDIA_ROOT/receipts/<brand>/<yyyy>/<mm>/<random>.jpg``; the original upload's SHA-256
  is kept for exact-copy detection.
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PHASH_MAX_DISTANCE = 6  # of 64 bits: re-encoded, resized or re-compressed copies stay within it


class ReceiptRule(models.Model):
    brand = models.OneToOneField("members.Brand", on_delete=models.CASCADE, related_name="receipt_rule")
    is_active = models.BooleanField(_("receipt upload enabled"), default=True)
    auto_approve = models.BooleanField(
        _("approve automatically"), default=False,
        help_text=_("Approve without staff when every field was read with confidence and the receipt is within "
                    "the limits below; otherwise it waits in the review queue."),
    )
    min_confidence = models.PositiveSmallIntegerField(
        _("minimum OCR confidence"), default=75, validators=[MaxValueValidator(100)],
        help_text=_("0-100: total, date and receipt number must each be read at least this surely."),
    )
    max_total = models.DecimalField(_("largest total approved automatically (THB)"), max_digits=12, decimal_places=2,
                                    default=Decimal("5000.00"), validators=[MinValueValidator(0)])
    max_age_days = models.PositiveSmallIntegerField(_("oldest receipt approved automatically (days)"), default=7)
    max_auto_approved_per_day = models.PositiveSmallIntegerField(
        _("receipts approved automatically per member per day"), default=3)
    max_uploads_per_day = models.PositiveSmallIntegerField(
        _("uploads per member per day"), default=10,
        help_text=_("More uploads on the same day (Bangkok time) are refused."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("receipt rule")
        verbose_name_plural = _("receipt rules")

    def __str__(self) -> str:
        return str(_("Receipt rule of %(brand)s") % {"brand": self.brand})


class ReceiptStore(models.Model):
    """A store whose receipts count, as printed on them, and the branch it is (if it is the brand's own)."""

    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="receipt_stores")
    name = models.CharField(_("name as printed"), max_length=200)
    aliases = models.TextField(_("other spellings"), blank=True,
                               help_text=_("One per line: other ways the name is printed (Thai, English, short)."))
    branch = models.ForeignKey("members.Branch", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="receipt_stores", verbose_name=_("branch"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("receipt store")
        verbose_name_plural = _("receipt stores")
        ordering = ["brand", "name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="receipt_store_name_unique_per_brand")]

    def __str__(self) -> str:
        return self.name

    def names(self) -> tuple[str, ...]:
        return (self.name, *(line.strip() for line in self.aliases.splitlines() if line.strip()))


def receipt_image_path(receipt: "Receipt", _filename: str) -> str:
    """A random name under the brand's folder: the member's file name is never used."""
    now = timezone.localtime()
    return f"receipts/{receipt.brand.slug}/{now:%Y/%m}/{secrets.token_hex(16)}.jpg"


class Receipt(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Reading")
        NEEDS_REVIEW = "needs_review", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    PENDING = (Status.QUEUED, Status.PROCESSING, Status.NEEDS_REVIEW)

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="receipts")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="receipts",
                               verbose_name=_("member"))
    upload_key = models.CharField(max_length=64, editable=False)
    image = models.FileField(_("image"), upload_to=receipt_image_path, max_length=200)
    image_width = models.PositiveIntegerField(default=0, editable=False)
    image_height = models.PositiveIntegerField(default=0, editable=False)
    sha256 = models.CharField(_("SHA-256 of the upload"), max_length=64, db_index=True, editable=False)
    phash = models.CharField(_("perceptual hash"), max_length=16, db_index=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)

    store = models.ForeignKey(ReceiptStore, on_delete=models.PROTECT, null=True, blank=True, related_name="receipts",
                              verbose_name=_("store"))
    store_text = models.CharField(_("store as read"), max_length=200, blank=True)
    branch = models.ForeignKey("members.Branch", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="receipts", verbose_name=_("branch"))
    receipt_date = models.DateField(_("receipt date"), null=True, blank=True)
    receipt_number = models.CharField(_("receipt number"), max_length=64, blank=True)
    total = models.DecimalField(_("total (THB)"), max_digits=12, decimal_places=2, null=True, blank=True)
    store_confidence = models.PositiveSmallIntegerField(_("store confidence"), null=True, blank=True)
    date_confidence = models.PositiveSmallIntegerField(_("date confidence"), null=True, blank=True)
    number_confidence = models.PositiveSmallIntegerField(_("number confidence"), null=True, blank=True)
    total_confidence = models.PositiveSmallIntegerField(_("total confidence"), null=True, blank=True)
    ocr_text = models.TextField(_("OCR text"), blank=True)
    ocr_seconds = models.FloatField(_("OCR time (s)"), null=True, blank=True)
    review_reasons = models.JSONField(_("why it needs review"), default=list, blank=True)
    # "<store id>" or "branch:<id>" or the store text as read; with receipt_number, unique among approved.
    store_key = models.CharField(max_length=200, blank=True, editable=False)
    duplicate_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="duplicates", verbose_name=_("duplicate of"))
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    purchase = models.OneToOneField("loyalty.Purchase", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="receipt", verbose_name=_("purchase"))
    processing_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "upload_key"], name="receipt_upload_once_per_form"),
            models.UniqueConstraint(
                fields=["brand", "store_key", "receipt_number"], condition=Q(status="approved"),
                name="receipt_number_approved_once_per_store",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | (
                    Q(total__isnull=False) & Q(receipt_date__isnull=False) & Q(purchase__isnull=False)
                    & ~Q(receipt_number="") & ~Q(store_key="")),
                name="receipt_approved_is_complete",
            ),
            models.CheckConstraint(condition=Q(total__isnull=True) | Q(total__gte=0), name="receipt_total_not_negative"),
        ]
        indexes = [
            models.Index(fields=["brand", "status", "created_at"], name="receipt_review_queue"),
            models.Index(fields=["member", "-created_at"], name="receipt_member_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.store_text or '?'} {self.receipt_number or ''} {self.total or ''}".strip()

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING
