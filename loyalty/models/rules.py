"""The basic earn rule: ``points`` for every ``spend_amount`` THB, rounded per brand.

One active rule per brand and currency. Richer rules (branch, channel, SKU, promotions)
build on this later; the computation stays in ``loyalty.services.earning``.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EarnRule(models.Model):
    class Rounding(models.TextChoices):
        DOWN = "down", _("Round down")
        HALF_UP = "half_up", _("Round to nearest")
        UP = "up", _("Round up")

    ROUNDING_MODES = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="earn_rules")
    currency = models.ForeignKey("loyalty.PointCurrency", on_delete=models.PROTECT, related_name="earn_rules")
    name = models.CharField(_("name"), max_length=100, default="")
    spend_amount = models.DecimalField(_("spend (THB)"), max_digits=12, decimal_places=2, default=Decimal("25"))
    points = models.PositiveIntegerField(_("points per spend"), default=1)
    rounding = models.CharField(_("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    minimum_spend = models.DecimalField(_("minimum bill (THB)"), max_digits=12, decimal_places=2, default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "currency"], condition=Q(is_active=True), name="one_active_rule_per_currency"
            ),
            models.CheckConstraint(condition=Q(spend_amount__gt=0), name="rule_spend_positive"),
            models.CheckConstraint(condition=Q(points__gt=0), name="rule_points_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.spend_amount} THB = {self.points} {self.currency.code}"

    def points_for(self, amount: Decimal) -> int:
        """Points for a bill of ``amount`` THB (zero below the minimum bill)."""
        if amount <= 0 or amount < self.minimum_spend:
            return 0
        units = (amount / self.spend_amount).quantize(Decimal(1), rounding=self.ROUNDING_MODES[self.rounding])
        return int(units) * self.points
