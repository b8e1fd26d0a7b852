"""Coupon promotions: coupons given automatically on a purchase, a birthday or registration.

Design overview
- A ``CouponRule`` names a trigger (purchase at or above a minimum spend, birthday,
  welcome), the coupon template it gives (a ``loyalty.Reward``: value, minimum spend,
  branches, validity) and when and to whom it applies (window, channels, branches, tiers).
- Coupons leave only through ``loyalty.services.coupons.coupon_issue`` with a key derived
  from the source, so a replayed event or a re-run job gives nothing twice:
  ``couponrule:{rule}:{purchase}`` (once per purchase), ``couponrule:{rule}:{member}:{period}``
  (once per member per Bangkok day/week/month/year or for the whole rule),
  ``couponrule:{rule}:{member}:{year}`` (birthday), ``couponrule:{rule}:{member}`` (welcome).
  The key is unique per brand on ``Coupon``: the database decides races.
- A ``CouponGrant`` records which rule (and purchase) gave each coupon, for results and
  for refunds; it is written in the same transaction as the coupon, one per coupon.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CouponRule(models.Model):
    class Trigger(models.TextChoices):
        PURCHASE = "purchase", _("Purchase at or above a minimum spend")
        BIRTHDAY = "birthday", _("Birthday")
        WELCOME = "welcome", _("Welcome (on registration)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class Limit(models.TextChoices):
        PER_PURCHASE = "purchase", _("Every qualifying purchase")
        PER_DAY = "day", _("Once per member per day")
        PER_WEEK = "week", _("Once per member per week")
        PER_MONTH = "month", _("Once per member per month")
        PER_YEAR = "year", _("Once per member per year")
        ONCE = "once", _("Once per member for the whole promotion")

    class BirthdayWindow(models.TextChoices):
        ON_THE_DAY = "day", _("On the birthday")
        BIRTH_MONTH = "month", _("In the birth month")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="coupon_rules")
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, related_name="coupon_rules", verbose_name=_("coupon template"),
        help_text=_("The reward whose coupon is given: its value, minimum spend, branches and validity."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    min_spend_thb = models.DecimalField(
        _("minimum purchase (THB)"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("Purchase trigger: a purchase of at least this total gives the coupon."),
    )
    limit = models.CharField(_("how often"), max_length=16, choices=Limit.choices, default=Limit.PER_PURCHASE,
                             help_text=_("Purchase trigger only."))
    birthday_window = models.CharField(_("birthday coupon"), max_length=8, choices=BirthdayWindow.choices,
                                       default=BirthdayWindow.ON_THE_DAY, help_text=_("Birthday trigger only."))
    channels = models.JSONField(
        _("channels"), default=list, blank=True,
        help_text=_("Purchase trigger: purchases from these channels only (e.g. pos, ecommerce). Empty: all."),
    )
    branches = models.ManyToManyField("members.Branch", blank=True, related_name="+", verbose_name=_("branches"),
                                      help_text=_("Purchase trigger: purchases at these branches only. Empty: all."))
    tiers = models.ManyToManyField("loyalty.Tier", blank=True, related_name="+", verbose_name=_("tiers"),
                                   help_text=_("Only members of these tiers. Empty: everyone."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("coupon promotion")
        verbose_name_plural = _("coupon promotions")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(trigger="purchase") | Q(min_spend_thb__gte=0),
                                   name="couponrule_purchase_has_minimum"),
            models.CheckConstraint(condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True)
                                   | Q(ends_at__gt=models.F("starts_at")), name="couponrule_window_ordered"),
        ]
        indexes = [models.Index(fields=["brand", "trigger", "status"], name="couponrule_brand_trigger")]

    def __str__(self) -> str:
        return self.name

    def label(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def is_running(self, at=None) -> bool:
        at = at or timezone.now()
        return (self.status == self.Status.ACTIVE and (self.starts_at is None or self.starts_at <= at)
                and (self.ends_at is None or at < self.ends_at))


class CouponGrant(models.Model):
    """A coupon a rule gave: written with the coupon, never changed."""

    rule = models.ForeignKey(CouponRule, on_delete=models.PROTECT, related_name="grants")
    coupon = models.OneToOneField("loyalty.Coupon", on_delete=models.PROTECT, related_name="coupon_grant")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    purchase = models.ForeignKey("loyalty.Purchase", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("coupon given")
        verbose_name_plural = _("coupons given")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["rule", "member"], name="coupongrant_rule_member"),
                   models.Index(fields=["purchase"], name="coupongrant_purchase")]

    def __str__(self) -> str:
        return f"{self.rule} → {self.member_id}"
