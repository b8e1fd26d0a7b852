"""What cashiers did at the till, for audit: every lookup, award, void and coupon acceptance.

Append-only. ``(brand, request_key)`` is unique for awards and coupon acceptances, so a
double tap (the same form submitted twice) is one action.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel


class CashierAction(AppendOnlyModel):
    class Kind(models.TextChoices):
        LOOKUP = "lookup", _("Member lookup")
        AWARD = "award", _("Points awarded")
        VOID = "void", _("Award voided")
        COUPON = "coupon", _("Coupon accepted")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="cashier_actions")
    branch = models.ForeignKey("members.Branch", on_delete=models.PROTECT, related_name="cashier_actions")
    cashier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashier_actions")
    kind = models.CharField(_("action"), max_length=16, choices=Kind.choices)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    purchase = models.ForeignKey("loyalty.Purchase", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="cashier_actions")
    coupon = models.ForeignKey("loyalty.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    voids = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="voided_by")
    points = models.BigIntegerField(_("points"), default=0)
    amount = models.DecimalField(_("amount (THB)"), max_digits=12, decimal_places=2, null=True, blank=True)
    request_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - NULL: lookups
    device_time = models.DateTimeField(_("device time"), null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("cashier action")
        verbose_name_plural = _("cashier actions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "request_key"], condition=Q(request_key__isnull=False),
                                    name="cashier_request_unique_per_brand"),
        ]
        indexes = [models.Index(fields=["cashier", "-created_at"], name="cashier_action_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.cashier} @ {self.branch}"
