"""Rewards, their redemptions and the coupons they issue.

- ``Reward.stock`` (NULL = unlimited) is decremented by a conditional UPDATE
  (``stock > 0``), so concurrent redemptions never oversell; ``CHECK stock >= 0`` backs it.
- ``(brand, request_id)`` is unique on ``Redemption``: a retried redemption is found, not
  repeated.
- A reward is also a coupon template: what its coupon is worth (``coupon_kind``: a free item,
  an amount off, or a percent off capped at ``percent_cap_thb``), the bill it needs
  (``min_spend_thb``) and where it can be used (``branches``, empty = all), enforced when the
  coupon is used. ``redeemable = False`` rewards are only given by campaigns and promotions:
  ``points_cost > 0`` is required only of rewards that can be redeemed for points.
- A flash reward (``is_flash``) has an end (``ends_at``) and a limited ``stock``.
- A ``Coupon`` code is 16 symbols of a 32-symbol alphabet (80 bits), unique; it moves
  from issued to used exactly once through a conditional UPDATE.
"""

import secrets
from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import MEMBER_CODE_ALPHABET

COUPON_CODE_LENGTH = 16  # 32 symbols ** 16 = 2 ** 80


def generate_coupon_code() -> str:
    return "".join(secrets.choice(MEMBER_CODE_ALPHABET) for _ in range(COUPON_CODE_LENGTH))


def normalise_coupon_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


class Reward(models.Model):
    class CouponKind(models.TextChoices):
        FREE_ITEM = "free_item", _("Free item")
        AMOUNT_OFF = "amount_off", _("Amount off (THB)")
        PERCENT_OFF = "percent_off", _("Percent off")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="rewards")
    currency = models.ForeignKey("loyalty.PointCurrency", on_delete=models.PROTECT, related_name="rewards")
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    points_cost = models.PositiveIntegerField(_("points cost"))
    value_thb = models.DecimalField(_("value (THB)"), max_digits=12, decimal_places=2, null=True, blank=True)
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    coupon_valid_days = models.PositiveIntegerField(_("coupon valid (days)"), default=30)
    min_tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, null=True, blank=True, related_name="rewards",
        verbose_name=_("for tier and above"), help_text=_("Only members of this tier or a higher one. Empty: all."),
    )
    coupon_kind = models.CharField(_("coupon gives"), max_length=16, choices=CouponKind.choices,
                                   default=CouponKind.FREE_ITEM)
    coupon_value = models.DecimalField(
        _("coupon value"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("THB off for an amount-off coupon, percent off (1-100) for a percent-off coupon."),
    )
    percent_cap_thb = models.DecimalField(
        _("percent discount cap (THB)"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("The most a percent-off coupon takes off a bill. Empty: no cap."),
    )
    min_spend_thb = models.DecimalField(
        _("minimum spend (THB)"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("The coupon is accepted only on a bill of at least this amount. Empty: any bill."),
    )
    branches = models.ManyToManyField(
        "members.Branch", blank=True, related_name="coupon_rewards", verbose_name=_("usable at branches"),
        help_text=_("The coupon is accepted only at these branches. Empty: every branch."),
    )
    redeemable = models.BooleanField(
        _("redeemable with points"), default=True,
        help_text=_("Off: only given by campaigns and coupon promotions, never redeemed for points."),
    )
    is_flash = models.BooleanField(
        _("flash reward"), default=False,
        help_text=_("Highlighted with a countdown while available; needs an end time and a limited stock."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gt=0) | Q(redeemable=False),
                                   name="reward_cost_positive_if_redeemable"),
            models.CheckConstraint(condition=Q(stock__isnull=True) | Q(stock__gte=0), name="reward_stock_not_negative"),
            models.CheckConstraint(
                condition=~Q(coupon_kind="amount_off") | Q(coupon_value__gt=0), name="reward_amount_off_positive"),
            models.CheckConstraint(
                condition=~Q(coupon_kind="percent_off") | (Q(coupon_value__gt=0) & Q(coupon_value__lte=100)),
                name="reward_percent_off_in_range"),
            models.CheckConstraint(
                condition=Q(is_flash=False) | (Q(ends_at__isnull=False) & Q(stock__isnull=False)),
                name="reward_flash_has_end_and_stock"),
        ]

    def __str__(self) -> str:
        return self.name

    def is_available(self, at=None) -> bool:
        at = at or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or at < self.ends_at)
        )

    def coupon_discount(self, bill_total: Decimal) -> Decimal:
        """THB its coupon takes off a bill of ``bill_total`` (a free item: 0, the item is the value).

        Amount off never exceeds the bill; percent off is rounded half up to the satang, then capped.
        """
        bill_total = Decimal(bill_total)
        if self.coupon_kind == self.CouponKind.AMOUNT_OFF and self.coupon_value:
            return min(self.coupon_value, bill_total).quantize(Decimal("0.01"))
        if self.coupon_kind == self.CouponKind.PERCENT_OFF and self.coupon_value:
            off = (bill_total * self.coupon_value / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return min(off, self.percent_cap_thb) if self.percent_cap_thb is not None else off
        return Decimal("0.00")


class Redemption(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="redemptions")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    account = models.ForeignKey("loyalty.PointAccount", on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField(_("points"))
    request_id = models.CharField(_("request ID"), max_length=100)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.COMPLETED)
    channel = models.CharField(_("channel"), max_length=16, default="pos")
    created_at = models.DateTimeField(_("redeemed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "request_id"], name="redemption_request_unique_per_brand")
        ]

    def __str__(self) -> str:
        return f"{self.reward} ← {self.member}"


class Coupon(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        USED = "used", _("Used")
        CANCELLED = "cancelled", _("Cancelled")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="coupons")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="coupons")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="coupons")
    redemption = models.OneToOneField(
        Redemption, on_delete=models.PROTECT, null=True, blank=True, related_name="coupon"
    )
    code = models.CharField(_("code"), max_length=32, unique=True, default=generate_coupon_code)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_branch = models.ForeignKey(
        "members.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    used_reference = models.CharField(_("used with"), max_length=200, blank=True)
    issue_key = models.CharField(
        _("issued for"), max_length=200, blank=True,
        help_text=_("What gave this coupon without a redemption (a campaign, a promotion); unique per brand."),
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="used") | Q(used_at__isnull=False), name="used_coupon_has_used_at"
            ),
            models.UniqueConstraint(fields=["brand", "issue_key"], condition=~Q(issue_key=""),
                                    name="coupon_issue_key_unique_per_brand"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_status_display()})"

    @property
    def display_code(self) -> str:
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))
