"""The points ledger.

Design overview (the rules in ARCHITECTURE.md, enforced here and in
``loyalty.services.ledger``):

- ``PointAccount(member, currency)`` caches ``balance``; the database refuses a negative
  balance (``CHECK balance >= 0``).
- ``LedgerEntry`` rows are append-only: ``save()`` refuses to update and ``delete()``
  refuses to delete. ``balance == sum(entries.amount)`` for every account.
- Every positive entry opens a ``PointLot`` (amount, remaining, expiry); every negative
  entry consumes lots through ``LotAllocation`` rows, earliest expiry first. Hence for
  every account ``balance == sum(lot.remaining)`` and for every lot
  ``remaining == amount - sum(allocations)``. ``manage.py verify_ledger`` proves all three.
- ``(brand, idempotency_key)`` is unique: replaying an earn returns the first entry.
- Only ``loyalty.services.ledger.points_post`` writes these tables, under a row lock on
  the account.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyError, AppendOnlyModel  # noqa: F401 - AppendOnlyError re-exported


class PointCurrency(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="currencies")
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default currency"), default=False)
    class ExpiryPolicy(models.TextChoices):
        NEVER = "never", _("Never expire")
        DAYS = "days", _("N days after earning")
        MONTHS = "months", _("N months after earning")
        YEAR_END = "year_end", _("End of the calendar year earned, plus N years")

    expiry_policy = models.CharField(_("points expire"), max_length=16, choices=ExpiryPolicy.choices,
                                     default=ExpiryPolicy.NEVER)
    expiry_period = models.PositiveIntegerField(
        _("N"), default=0,
        help_text=_("Days or months after earning, or years after the year earned (0: that year's end). "
                    "Points expire at midnight Bangkok time after the last valid day."),
    )
    reminder_days = models.PositiveIntegerField(
        _("remind before expiry (days)"), default=7,
        help_text=_("Members get one LINE reminder this many days before points expire. 0: no reminder."),
    )
    point_value = models.DecimalField(
        _("cost of one point (THB)"), max_digits=12, decimal_places=4, default=Decimal("0"),
        help_text=_("Used to value outstanding points (liability)."),
    )
    shared_with = models.ManyToManyField(
        "members.Brand", blank=True, related_name="shared_currencies", verbose_name=_("shared with brands"),
        help_text=_("Other brands of the same company whose members earn and spend this currency too."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("point currency")
        verbose_name_plural = _("point currencies")
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="currency_code_unique_per_brand"),
            models.UniqueConstraint(
                fields=["brand"], condition=Q(is_default=True), name="one_default_currency_per_brand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class PointAccount(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="point_accounts")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="accounts")
    currency = models.ForeignKey(PointCurrency, on_delete=models.PROTECT, related_name="accounts")
    balance = models.BigIntegerField(_("balance"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("point account")
        verbose_name_plural = _("point accounts")
        constraints = [
            models.UniqueConstraint(fields=["member", "currency"], name="one_account_per_member_currency"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.currency.code}: {self.balance}"

    def save(self, *args, **kwargs):
        # The cached balance moves only through the ledger service's F() update under a row
        # lock; saving a whole (possibly stale) row would overwrite it.
        if not self._state.adding:
            raise AppendOnlyError("PointAccount rows change only through loyalty.services.ledger")
        super().save(*args, **kwargs)


class LedgerEntry(AppendOnlyModel):
    class Kind(models.TextChoices):
        EARN = "earn", _("Earn")
        REDEEM = "redeem", _("Redeem")
        EXPIRE = "expire", _("Expire")
        ADJUST = "adjust", _("Adjustment")
        REVERSE = "reverse", _("Reversal")
        TRANSFER = "transfer", _("Transfer")

    class Channel(models.TextChoices):
        POS = "pos", _("POS")
        CASHIER = "cashier", _("Cashier")
        RECEIPT = "receipt", _("Receipt")
        CLAIM_CODE = "claim_code", _("Claim code")
        ECOMMERCE = "ecommerce", _("E-commerce")
        MARKETPLACE = "marketplace", _("Marketplace")
        ACTIVITY = "activity", _("Activity")
        CAMPAIGN = "campaign", _("Campaign")
        REWARD = "reward", _("Reward")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="ledger_entries")
    account = models.ForeignKey(PointAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    amount = models.BigIntegerField(_("points"))
    balance_after = models.BigIntegerField(_("balance after"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    purchase = models.ForeignKey(
        "loyalty.Purchase", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    redemption = models.ForeignKey(
        "loyalty.Redemption", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals"
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True)
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    expires_at = models.DateTimeField(_("lot expires at"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "idempotency_key"], name="ledger_idempotency_unique_per_brand"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="ledger_account_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} ({self.idempotency_key})"


class PointLot(models.Model):
    """Points opened by one positive entry; ``remaining`` falls as they are spent or expire."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    account = models.ForeignKey(PointAccount, on_delete=models.PROTECT, related_name="lots")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("point lot")
        verbose_name_plural = _("point lots")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")), name="lot_remaining_in_range"
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "expires_at", "id"], condition=Q(remaining__gt=0), name="lot_open_by_expiry"
            ),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="lot_open_expiry"),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.amount}"


class LotAllocation(AppendOnlyModel):
    """``amount`` points of ``lot`` consumed by the negative ``entry``."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(PointLot, on_delete=models.PROTECT, related_name="allocations")
    amount = models.BigIntegerField()

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} from lot {self.lot_id}"
