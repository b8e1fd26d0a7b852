"""Purchases recorded from earn channels, their lines and refunds.

- ``(brand, channel, order_id)`` is unique: a replayed order is found, never re-recorded.
- Money is ``Decimal`` THB with two places; ``refunded_total <= total`` is a constraint.
- ``points_earned`` is the default-currency points of the earn entry written with the
  purchase in the same transaction; refunds write reversal entries, never edits.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .ledger import LedgerEntry


class Purchase(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="purchases")
    branch = models.ForeignKey(
        "members.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="purchases"
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="purchases")
    channel = models.CharField(_("channel"), max_length=16, choices=LedgerEntry.Channel.choices)
    order_id = models.CharField(_("order ID"), max_length=100)
    total = models.DecimalField(_("total (THB)"), max_digits=12, decimal_places=2)
    refunded_total = models.DecimalField(_("refunded (THB)"), max_digits=12, decimal_places=2, default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    points_earned = models.BigIntegerField(_("points earned"), default=0)
    balance_after = models.BigIntegerField(_("balance after"), null=True, blank=True)
    purchased_at = models.DateTimeField(_("purchased at"))
    api_key = models.ForeignKey(
        "members.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="purchases"
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-purchased_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "channel", "order_id"], name="purchase_order_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="purchase_total_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=F("total")),
                name="purchase_refund_within_total",
            ),
        ]
        indexes = [models.Index(fields=["member", "-purchased_at"], name="purchase_member_recent"),
                   models.Index(fields=["brand", "purchased_at"], name="purchase_brand_time")]

    def __str__(self) -> str:
        return f"{self.order_id} · {self.total} THB"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount (THB)"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")

    def __str__(self) -> str:
        return f"{self.sku or self.category} × {self.quantity}: {self.amount}"


class PurchaseRefund(models.Model):
    """One refund of a purchase and what it did to the member's points.

    ``points_shortfall`` is what should have been reversed but had already been spent:
    recorded and reported, never taken below zero.
    """

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField(_("refund ID"), max_length=100)
    amount = models.DecimalField(_("amount (THB)"), max_digits=12, decimal_places=2)
    refunded_total_after = models.DecimalField(_("refunded in all (THB)"), max_digits=12, decimal_places=2)
    purchase_status_after = models.CharField(_("purchase status after"), max_length=20,
                                             choices=Purchase.Status.choices)
    points_reversed = models.BigIntegerField(_("points reversed"), default=0)
    points_shortfall = models.BigIntegerField(_("points shortfall"), default=0)
    details = models.JSONField(_("per currency"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("purchase refund")
        verbose_name_plural = _("purchase refunds")
        constraints = [
            models.UniqueConstraint(fields=["purchase", "refund_id"], name="refund_id_unique_per_purchase"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id}: {self.amount} THB"
