"""Membership tiers.

- ``TierProgram`` (one per brand): what qualifies (spend, points earned or purchase
  count), over which period (a calendar year or a rolling window of N months, Bangkok
  time), and the grace period after a failed review.
- ``Tier``: a level with its ``rank`` (higher is better), the qualifying ``threshold``
  and its benefits (earn multiplier, birthday bonus, own rich menu; rewards may require
  a minimum tier).
- ``MemberTier``: a member's current tier and when it is reviewed next
  (``qualified_until``). A qualifying purchase upgrades at once; the nightly review
  (set-based, ``loyalty.services.tiers``) keeps, downgrades (after ``grace_until``) or
  lets the tier lapse. A staff override holds a tier until ``override_until``.
- ``TierChange``: append-only history of every change, with the reason.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel


class TierProgram(models.Model):
    class Metric(models.TextChoices):
        SPEND = "spend", _("Spend (THB, after refunds)")
        POINTS = "points", _("Points earned")
        PURCHASES = "purchases", _("Number of purchases")

    class Period(models.TextChoices):
        CALENDAR_YEAR = "calendar_year", _("Calendar year")
        ROLLING = "rolling", _("Rolling window")

    brand = models.OneToOneField("members.Brand", on_delete=models.PROTECT, related_name="tier_program")
    metric = models.CharField(_("qualify on"), max_length=16, choices=Metric.choices, default=Metric.SPEND)
    currency = models.ForeignKey(
        "loyalty.PointCurrency", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("currency"), help_text=_("For 'points earned'. Empty: the brand's default currency."),
    )
    period = models.CharField(_("period"), max_length=16, choices=Period.choices, default=Period.CALENDAR_YEAR)
    rolling_months = models.PositiveSmallIntegerField(
        _("rolling window (months)"), default=12, validators=[MinValueValidator(1)],
    )
    grace_days = models.PositiveIntegerField(
        _("grace period (days)"), default=0,
        help_text=_("After a review a member would drop, they keep their tier this many days more."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tier program")
        verbose_name_plural = _("tier programs")
        constraints = [models.CheckConstraint(condition=Q(rolling_months__gte=1), name="tier_rolling_months_positive")]

    def __str__(self) -> str:
        return f"{self.brand}: {self.get_metric_display()} · {self.get_period_display()}"


class Tier(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="tiers")
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name (Thai)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("Higher is better; the entry tier has the lowest."))
    threshold = models.DecimalField(
        _("qualifying threshold"), max_digits=14, decimal_places=2, default=Decimal("0"),
        help_text=_("Spend (THB), points or purchases in the period needed for this tier. 0: every member."),
    )
    earn_multiplier = models.DecimalField(
        _("earn multiplier"), max_digits=5, decimal_places=2, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("1"))], help_text=_("1.5 gives 50% more base points."),
    )
    birthday_bonus = models.PositiveIntegerField(_("birthday bonus (points)"), default=0)
    own_rich_menu = models.BooleanField(_("own rich menu"), default=False,
                                        help_text=_("Members of this tier get a rich menu of their own on LINE."))
    color = models.CharField(_("colour"), max_length=7, default="#8a8a8a")
    benefits = models.TextField(_("benefits (Thai)"), blank=True)
    benefits_en = models.TextField(_("benefits (English)"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["brand", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="tier_code_unique_per_brand"),
            models.UniqueConstraint(fields=["brand", "rank"], name="tier_rank_unique_per_brand"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_threshold_not_negative"),
            models.CheckConstraint(condition=Q(earn_multiplier__gte=1), name="tier_multiplier_at_least_one"),
        ]

    def __str__(self) -> str:
        return self.name

    def label(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def benefits_text(self, language: str) -> str:
        return self.benefits_en if language == "en" and self.benefits_en else self.benefits


class MemberTier(models.Model):
    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, primary_key=True,
                                  related_name="tier_status")
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="members",
                             verbose_name=_("tier"))
    achieved_at = models.DateTimeField(_("since"), null=True, blank=True)
    qualified_until = models.DateTimeField(_("reviewed on"), null=True, blank=True,
                                           help_text=_("The tier holds until this review."))
    grace_until = models.DateTimeField(_("grace period until"), null=True, blank=True)
    grace_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("tier after the grace period"))
    override_until = models.DateTimeField(_("staff override until"), null=True, blank=True)
    override_reason = models.TextField(_("override reason"), blank=True)
    override_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member tier")
        verbose_name_plural = _("member tiers")
        indexes = [
            models.Index(fields=["brand", "qualified_until"], name="member_tier_review_due"),
            models.Index(fields=["brand", "tier"], name="member_tier_by_tier"),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.tier or '-'}"


class TierChange(AppendOnlyModel):
    class Kind(models.TextChoices):
        UPGRADE = "upgrade", _("Upgrade")
        RENEWAL = "renewal", _("Renewed")
        GRACE = "grace", _("Grace period started")
        DOWNGRADE = "downgrade", _("Downgrade")
        LAPSE = "lapse", _("Tier lapsed")
        OVERRIDE = "override", _("Staff override")

    # Few indexes on purpose: the nightly review inserts up to one row per member (1M on 1 January);
    # (member, -id) serves every read, run_key the fan-out.
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="tier_changes",
                               db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    from_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("from"), db_index=False)
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("to"), db_index=False)
    value = models.DecimalField(_("qualifying value"), max_digits=16, decimal_places=2, null=True, blank=True)
    qualified_until = models.DateTimeField(_("holds until"), null=True, blank=True)
    staff_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_index=False)
    reason = models.TextField(_("reason"), blank=True)
    run_key = models.CharField(_("run"), max_length=64, blank=True,
                               help_text=_("The nightly review run that made this change."))
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "-id"], name="tier_change_member"),
                   models.Index(fields=["run_key"], name="tier_change_run",
                                condition=~Q(run_key=""))]

    def __str__(self) -> str:
        return f"{self.member}: {self.from_tier or '-'} → {self.to_tier or '-'} ({self.get_kind_display()})"
