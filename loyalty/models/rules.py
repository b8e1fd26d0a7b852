"""Earn rules, the brand's earn policy and promotions.

- ``EarnRule``: a conversion rate (``points`` for every ``spend_amount`` THB) for one
  currency, either the brand's base rate (no scope) or an override scoped to a branch,
  a channel, a product category or a SKU. A bill line earns at the most specific rule
  that matches it (SKU > category > channel > branch > base; see
  ``loyalty.services.earn_engine``). ``points = 0`` excludes what the rule matches.
- ``EarnPolicy``: rounding (down by default) on the bill or per line, and a cap on all
  promotion bonus points of one bill.
- ``Promotion``: a multiplier, a bonus for the bill or a bonus per item, inside a time
  window (optional days of week and hours, Bangkok time), for an audience (tiers,
  branches, channels). Promotions apply in ``priority`` order; an *exclusive* one stops
  the promotions after it. Caps per bill and per member per period.
- ``PromotionAward``: append-only, what a promotion gave on one purchase (caps and
  reports read it).
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel

from .ledger import LedgerEntry

ROUNDING_MODES = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}

# Earn channels a rule or promotion can be scoped to (purchases come only from these).
EARN_CHANNELS = [
    (LedgerEntry.Channel.POS, LedgerEntry.Channel.POS.label),
    (LedgerEntry.Channel.CASHIER, LedgerEntry.Channel.CASHIER.label),
    (LedgerEntry.Channel.RECEIPT, LedgerEntry.Channel.RECEIPT.label),
    (LedgerEntry.Channel.ECOMMERCE, LedgerEntry.Channel.ECOMMERCE.label),
    (LedgerEntry.Channel.MARKETPLACE, LedgerEntry.Channel.MARKETPLACE.label),
]


class Rounding(models.TextChoices):
    DOWN = "down", _("Round down")
    HALF_UP = "half_up", _("Round to nearest")
    UP = "up", _("Round up")


class EarnPolicy(models.Model):
    class Scope(models.TextChoices):
        BILL = "bill", _("On the bill (add up the lines, then round once)")
        LINE = "line", _("Per line (round each line, then add up)")

    brand = models.OneToOneField("members.Brand", on_delete=models.PROTECT, related_name="earn_policy")
    rounding = models.CharField(_("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    rounding_scope = models.CharField(_("round"), max_length=8, choices=Scope.choices, default=Scope.BILL)
    bonus_cap_per_bill = models.PositiveIntegerField(
        _("promotion bonus cap per bill"), null=True, blank=True,
        help_text=_("At most this many bonus points from all promotions together on one bill. Empty: no cap."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("earn policy")
        verbose_name_plural = _("earn policies")

    def __str__(self) -> str:
        return f"{self.brand}: {self.get_rounding_display()} · {self.get_rounding_scope_display()}"


class EarnRule(models.Model):
    """``points`` for every ``spend_amount`` THB of what the rule matches."""

    Rounding = Rounding  # kept for callers of EarnRule.Rounding
    ROUNDING_MODES = ROUNDING_MODES

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="earn_rules")
    currency = models.ForeignKey("loyalty.PointCurrency", on_delete=models.PROTECT, related_name="earn_rules")
    name = models.CharField(_("name"), max_length=100, default="", blank=True)
    branch = models.ForeignKey("members.Branch", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="earn_rules", verbose_name=_("branch"),
                               help_text=_("Only bills of this branch. Empty: every branch."))
    channel = models.CharField(_("channel"), max_length=16, choices=EARN_CHANNELS, blank=True,
                               help_text=_("Only this earn channel. Empty: every channel."))
    category = models.CharField(_("product category"), max_length=100, blank=True,
                                help_text=_("Only lines of this category. Empty: every category."))
    sku = models.CharField(_("SKU"), max_length=100, blank=True,
                           help_text=_("Only lines of this SKU. Empty: every product."))
    spend_amount = models.DecimalField(_("spend (THB)"), max_digits=12, decimal_places=2, default=Decimal("25"))
    points = models.PositiveIntegerField(_("points per spend"), default=1,
                                         help_text=_("0: what this rule matches earns no points."))
    minimum_spend = models.DecimalField(_("minimum bill (THB)"), max_digits=12, decimal_places=2, default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "currency", "branch", "channel", "category", "sku"], condition=Q(is_active=True),
                nulls_distinct=False, name="one_active_rule_per_scope",
            ),
            models.CheckConstraint(condition=Q(spend_amount__gt=0), name="rule_spend_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.spend_amount} THB = {self.points} {self.currency.code}{self.scope_label()}"

    @property
    def specificity(self) -> int:
        """SKU beats category beats channel beats branch; a rule with several scopes adds them up."""
        return 8 * bool(self.sku) + 4 * bool(self.category) + 2 * bool(self.channel) + 1 * bool(self.branch_id)

    def scope_label(self) -> str:
        parts = [f"SKU {self.sku}" if self.sku else "", f"{self.category}" if self.category else "",
                 self.get_channel_display() if self.channel else "", str(self.branch) if self.branch_id else ""]
        parts = [p for p in parts if p]
        return f" ({', '.join(parts)})" if parts else ""

    def matches(self, *, branch_id, channel: str, category: str, sku: str) -> bool:
        return ((not self.branch_id or self.branch_id == branch_id) and (not self.channel or self.channel == channel)
                and (not self.category or self.category == category) and (not self.sku or self.sku == sku))


WEEKDAYS = [("0", _("Monday")), ("1", _("Tuesday")), ("2", _("Wednesday")), ("3", _("Thursday")),
            ("4", _("Friday")), ("5", _("Saturday")), ("6", _("Sunday"))]


class Promotion(models.Model):
    class Kind(models.TextChoices):
        MULTIPLIER = "multiplier", _("Multiply points (e.g. ×2 today)")
        BILL_BONUS = "bill_bonus", _("Bonus points for the bill (e.g. +50 for 500 THB or more)")
        ITEM_BONUS = "item_bonus", _("Bonus points per item of chosen SKUs or categories")

    class CapPeriod(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        PROMOTION = "promotion", _("for the whole promotion")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="promotions")
    currency = models.ForeignKey("loyalty.PointCurrency", on_delete=models.PROTECT, related_name="promotions")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    multiplier = models.DecimalField(_("multiplier"), max_digits=6, decimal_places=2, default=Decimal("2"),
                                     validators=[MinValueValidator(Decimal("1"))],
                                     help_text=_("For multipliers: 2 doubles the base points."))
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0,
                                               help_text=_("For bonuses: points per bill, or per item."))
    minimum_bill = models.DecimalField(_("minimum bill (THB)"), max_digits=12, decimal_places=2, default=0)
    skus = models.TextField(_("SKUs"), blank=True, help_text=_("One per line or comma-separated. Empty: any."))
    categories = models.TextField(_("product categories"), blank=True,
                                  help_text=_("One per line or comma-separated. Empty: any."))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    weekdays = models.CharField(_("days of week"), max_length=7, blank=True,
                                help_text=_("Empty: every day."))
    time_from = models.TimeField(_("from (time of day)"), null=True, blank=True)
    time_until = models.TimeField(_("until (time of day)"), null=True, blank=True)
    tiers = models.ManyToManyField("loyalty.Tier", blank=True, related_name="promotions",
                                   verbose_name=_("tiers"), help_text=_("Only members of these tiers. Empty: all."))
    branches = models.ManyToManyField("members.Branch", blank=True, related_name="promotions",
                                      verbose_name=_("branches"), help_text=_("Empty: every branch."))
    channels = models.CharField(_("channels"), max_length=100, blank=True,
                                help_text=_("Empty: every channel."))
    priority = models.PositiveIntegerField(_("priority"), default=100, help_text=_("Lower applies first."))
    exclusive = models.BooleanField(
        _("exclusive"), default=False,
        help_text=_("When this promotion applies, the promotions after it (by priority) do not."),
    )
    cap_per_bill = models.PositiveIntegerField(_("cap per bill"), null=True, blank=True,
                                               help_text=_("At most this many bonus points on one bill."))
    cap_per_member = models.PositiveIntegerField(_("cap per member"), null=True, blank=True,
                                                 help_text=_("At most this many bonus points per member per period."))
    cap_period = models.CharField(_("cap period"), max_length=10, choices=CapPeriod.choices,
                                  default=CapPeriod.PROMOTION)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="promotion_window_valid"),
            models.CheckConstraint(condition=Q(multiplier__gte=1), name="promotion_multiplier_at_least_one"),
        ]
        indexes = [models.Index(fields=["brand", "is_active", "ends_at"], name="promotion_active")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def _split(text: str) -> set[str]:
        return {part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()}

    @property
    def sku_set(self) -> set[str]:
        return self._split(self.skus)

    @property
    def category_set(self) -> set[str]:
        return self._split(self.categories)

    @property
    def channel_set(self) -> set[str]:
        return self._split(self.channels)


class PromotionAward(AppendOnlyModel):
    """Bonus points one promotion gave on one purchase (inside the purchase's earn entry)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="promotion_awards")
    purchase = models.ForeignKey("loyalty.Purchase", on_delete=models.PROTECT, related_name="promotion_awards")
    points = models.PositiveBigIntegerField(_("points"))
    awarded_at = models.DateTimeField(_("awarded at"))

    class Meta:
        verbose_name = _("promotion award")
        verbose_name_plural = _("promotion awards")
        constraints = [models.UniqueConstraint(fields=["promotion", "purchase"], name="one_award_per_purchase")]
        indexes = [models.Index(fields=["promotion", "member", "awarded_at"], name="award_member_period")]

    def __str__(self) -> str:
        return f"{self.promotion}: +{self.points}"
