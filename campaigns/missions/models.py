"""Missions, member progress, product reviews and referrals.

Design overview:

- A ``Mission`` is a set of ``Objective`` rows that must *all* be met inside a window:
  the whole mission period, or a rolling ``window_days`` per member that starts at the
  member's first progress. Staff move it draft → active ⇄ paused → ended; only active
  missions collect progress.
- ``MissionProgress`` is one member's attempt (``cycle`` 1, 2, …). A repeatable mission
  opens the next cycle after a completion (up to ``max_completions``); a rolling window
  that lapsed uncompleted opens a fresh attempt at the member's next progress.
  ``(mission, member, cycle)`` is unique.
- ``Contribution`` rows are append-only: ``(progress, objective, source_kind, source_id,
  event_key, value)``. A purchase contributes once (``event_key="recorded"``); a refund
  appends the difference between what the purchase counts for now and what it counted
  (``event_key="refund:<id>"``). An objective's value is the sum of its rows (for
  "different branches": the number of branches whose purchases still count).
- Completion happens under ``SELECT ... FOR UPDATE`` of the progress row; the reward keys
  are ``mission:{mission}:{member}:{cycle}`` for the points entry and the coupon, so a
  completion is granted exactly once. A completed progress never changes again.
- ``ProductReview``: one per member and SKU, of a SKU the member bought; publishing counts
  for the "review a product" objective through the ``review_published`` event.
- ``Referral``: who brought whom; ``referred`` is unique (a member is referred once).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel


class Mission(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class Window(models.TextChoices):
        MISSION = "mission", _("The whole mission period")
        ROLLING = "rolling", _("Rolling days per member")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="missions")
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description (Thai)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    image_url = models.URLField(_("image URL"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    window = models.CharField(_("window"), max_length=16, choices=Window.choices, default=Window.MISSION)
    window_days = models.PositiveSmallIntegerField(
        _("rolling window (days)"), null=True, blank=True,
        help_text=_("For a rolling window: days from the member's first progress."))
    repeatable = models.BooleanField(_("repeatable"), default=False)
    max_completions = models.PositiveIntegerField(
        _("max completions per member"), null=True, blank=True,
        help_text=_("For a repeatable mission. Empty: no limit."))
    tiers = models.ManyToManyField("loyalty.Tier", blank=True, related_name="missions", verbose_name=_("tiers"),
                                   help_text=_("Only members of these tiers. Empty: all members."))
    # Segments (issue 8 follow-up) will add an audience segment next to the tiers.
    reward_currency = models.ForeignKey(
        "loyalty.PointCurrency", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("reward currency"))
    reward_points = models.PositiveIntegerField(_("reward points"), default=0)
    reward_coupon = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("reward coupon"), help_text=_("A coupon of this reward is given on completion."))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mission")
        verbose_name_plural = _("missions")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="mission_ends_after_start"),
            models.CheckConstraint(condition=~Q(window="rolling") | Q(window_days__gte=1),
                                   name="mission_rolling_needs_days"),
            models.CheckConstraint(condition=Q(reward_points=0) | Q(reward_currency__isnull=False),
                                   name="mission_points_need_currency"),
        ]
        indexes = [models.Index(fields=["brand", "status", "starts_at", "ends_at"], name="mission_active_lookup")]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def display_description(self, language: str) -> str:
        return self.description_en if language == "en" and self.description_en else self.description


class Objective(models.Model):
    class Kind(models.TextChoices):
        SPEND = "spend", _("Total spend (THB)")
        PURCHASES = "purchases", _("Number of purchases")
        PRODUCT = "product", _("Buy a SKU or category")
        BRANCHES = "branches", _("Visit different branches")
        REVIEW = "review", _("Review a product")
        SURVEY = "survey", _("Complete a survey")
        CHECK_INS = "check_ins", _("Daily check-ins")
        REFERRALS = "referrals", _("Refer friends who register")

    class Measure(models.TextChoices):
        QUANTITY = "quantity", _("Quantity")
        AMOUNT = "amount", _("Amount (THB)")

    mission = models.ForeignKey(Mission, on_delete=models.CASCADE, related_name="objectives")
    kind = models.CharField(_("objective"), max_length=16, choices=Kind.choices)
    target = models.DecimalField(_("target"), max_digits=12, decimal_places=2, default=Decimal("1"),
                                 validators=[MinValueValidator(Decimal("0.01"))],
                                 help_text=_("THB for spend and amounts; a count for everything else."))
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    measure = models.CharField(_("measure"), max_length=16, choices=Measure.choices, default=Measure.QUANTITY,
                               help_text=_("For a SKU or category: count items or THB."))
    survey = models.ForeignKey("activity.Survey", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("survey"),
                               help_text=_("For a survey objective. Empty: any survey."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")
        ordering = ["mission", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(target__gt=0), name="objective_target_positive"),
            models.CheckConstraint(condition=~Q(kind="product") | ~Q(sku="") | ~Q(category=""),
                                   name="objective_product_needs_sku_or_category"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ≥ {self.target}"

    @property
    def is_money(self) -> bool:
        return self.kind == self.Kind.SPEND or (self.kind == self.Kind.PRODUCT and self.measure == self.Measure.AMOUNT)


class MissionProgress(models.Model):
    """One member's attempt at a mission (cycle 1, 2, … for repeatable missions)."""

    mission = models.ForeignKey(Mission, on_delete=models.PROTECT, related_name="progress")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="mission_progress")
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+")
    cycle = models.PositiveIntegerField(_("cycle"), default=1)
    window_starts_at = models.DateTimeField(_("window starts"))
    window_ends_at = models.DateTimeField(_("window ends"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    points_entry = models.ForeignKey("loyalty.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("points given"))
    coupon = models.ForeignKey("loyalty.Coupon", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("coupon given"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mission progress")
        verbose_name_plural = _("mission progress")
        ordering = ["mission", "member", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["mission", "member", "cycle"], name="mission_progress_cycle_unique"),
            models.CheckConstraint(condition=Q(cycle__gte=1), name="mission_progress_cycle_positive"),
        ]
        indexes = [models.Index(fields=["member", "mission", "-cycle"], name="mission_progress_latest")]

    def __str__(self) -> str:
        return f"{self.mission} · {self.member} · #{self.cycle}"

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None

    def completion_key(self) -> str:
        return f"mission:{self.mission_id}:{self.member_id}:{self.cycle}"


class Contribution(AppendOnlyModel):
    """What one source (a purchase, a refund's correction, a review, …) added to an objective."""

    class SourceKind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        REVIEW = "review", _("Product review")
        SURVEY = "survey", _("Survey response")
        CHECK_IN = "check_in", _("Check-in")
        REFERRAL = "referral", _("Referral")

    progress = models.ForeignKey(MissionProgress, on_delete=models.PROTECT, related_name="contributions")
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="contributions")
    source_kind = models.CharField(_("source"), max_length=16, choices=SourceKind.choices)
    source_id = models.CharField(_("source ID"), max_length=64)
    event_key = models.CharField(_("event"), max_length=64, default="recorded",
                                 help_text=_("'recorded', or 'refund:<id>' for a refund's correction."))
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2)
    dimension = models.CharField(_("branch"), max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contribution")
        verbose_name_plural = _("contributions")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["progress", "objective", "source_kind", "source_id", "event_key"],
                                    name="mission_contribution_once"),
        ]
        indexes = [models.Index(fields=["source_kind", "source_id"], name="mission_contribution_source")]

    def __str__(self) -> str:
        return f"{self.source_kind}:{self.source_id} {self.event_key} {self.value}"


class ProductReview(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Rejected")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="product_reviews")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="product_reviews")
    purchase_line = models.ForeignKey("loyalty.PurchaseLine", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", verbose_name=_("purchase line"))
    sku = models.CharField(_("SKU"), max_length=100)
    product_name = models.CharField(_("product"), max_length=200, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField(_("review"), blank=True, max_length=2000)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    moderated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("moderated by"))
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product review")
        verbose_name_plural = _("product reviews")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "sku"], name="product_review_once_per_sku"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="product_review_rating_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name or self.sku} · {self.rating}★"


class Referral(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="referrals")
    referrer = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="referrals_made",
                                 verbose_name=_("referrer"))
    referred = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="referral",
                                    verbose_name=_("referred member"))
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=models.F("referred")), name="referral_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer} → {self.referred}"
