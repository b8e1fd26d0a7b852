"""One-time claim codes printed as QR labels on packaging or receipts.

Design overview
- A ``ClaimBatch`` is N codes worth ``points`` of one currency, valid in a window, with an
  optional per-member limit. Each code is a ``ClaimCode`` row holding only
  ``code_digest = SHA-256(normalised code)`` (unique): a database leak reveals no code,
  and a lookup is one probe of the unique index, at 10 million codes as at 100.
- Codes are derived, not stored: code number ``n`` is the first 80 bits of
  ``HMAC-SHA256(batch secret, n)`` (``loyalty.claims.codes``). The 32-byte secret is kept
  encrypted (``config.crypto``, Fernet under FIELD_ENCRYPTION_KEY/SECRET_KEY). So staff of the
  batch's brand can download the CSV and PDF labels again at any time, while nothing
  plaintext rests in the database. Chosen over a one-time encrypted export row: a lost
  download is not a lost batch. Trade-off: whoever holds both the database and the
  encryption key can rebuild the codes (as they could decrypt an export). Rotating the key
  without re-encrypting the secrets makes exports impossible; claims keep working.
- A code pays out once, ever: ``claim_code_redeem`` claims it with a conditional
  ``UPDATE … WHERE claimed_by IS NULL`` (the database decides races) and posts the points
  through ``points_post`` with the key ``claim:{batch}:{code}``, in one transaction.
  ``claimed_by``, ``claimed_at`` and ``ledger_entry`` are written only there.
- Indexes are sized for 10 million codes: the unique digest, ``(batch, number)`` unique, and
  one partial index of claimed codes ``(batch, claimed_by)`` for limits and counts.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from config.crypto import EncryptedTextField

MAX_BATCH_QUANTITY = 100_000


class ClaimBatch(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="claim_batches",
                              verbose_name=_("brand"))
    currency = models.ForeignKey("loyalty.PointCurrency", on_delete=models.PROTECT, related_name="claim_batches",
                                 verbose_name=_("currency"))
    name = models.CharField(_("name"), max_length=200)
    points = models.PositiveIntegerField(_("points per code"))
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    campaign = models.CharField(_("campaign label"), max_length=200, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True,
                                       help_text=_("Empty: no end date."))
    per_member_limit = models.PositiveIntegerField(
        _("codes per member"), null=True, blank=True,
        help_text=_("How many codes of this batch one member may claim. Empty: no limit."),
    )
    quantity = models.PositiveIntegerField(_("number of codes"))
    secret = EncryptedTextField(editable=False)  # hex of 32 random bytes; see the module docstring
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False, verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("claim code batch")
        verbose_name_plural = _("claim code batches")
        ordering = ["-created_at"]
        permissions = [("download_claim_codes", _("Can download claim codes (CSV, PDF labels)"))]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="claim_batch_points_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(quantity__lte=MAX_BATCH_QUANTITY),
                                   name="claim_batch_quantity_in_range"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                                   name="claim_batch_window_ordered"),
            models.CheckConstraint(condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gt=0),
                                   name="claim_batch_limit_positive"),
        ]
        indexes = [models.Index(fields=["brand", "-created_at"], name="claim_batch_brand_recent")]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_bytes(self) -> bytes:
        return bytes.fromhex(self.secret)


class ClaimCode(models.Model):
    """One printed code, known only by its digest; ``number`` is its label number in the batch."""

    batch = models.ForeignKey(ClaimBatch, on_delete=models.PROTECT, related_name="codes", db_index=False,
                              verbose_name=_("batch"))
    number = models.PositiveIntegerField(_("label number"))
    code_digest = models.CharField(max_length=64, unique=True, editable=False)
    claimed_by = models.ForeignKey("members.Member", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="claim_codes", db_index=False, verbose_name=_("claimed by"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    ledger_entry = models.OneToOneField("loyalty.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="claim_code", verbose_name=_("ledger entry"))

    class Meta:
        verbose_name = _("claim code")
        verbose_name_plural = _("claim codes")
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="claim_code_number_unique_per_batch"),
            models.CheckConstraint(condition=Q(claimed_by__isnull=True) | Q(claimed_at__isnull=False),
                                   name="claim_code_claimed_has_time"),
        ]
        indexes = [
            models.Index(fields=["batch", "claimed_by"], condition=Q(claimed_by__isnull=False),
                         name="claim_code_claimed"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} #{self.number}"
