"""Top spender races: who spent (or earned) the most in a period, and what the top N win.

Design overview
- ``Race``: a brand's race over ``[starts_at, ends_at)`` (a Bangkok calendar week or month,
  or custom bounds), ranked on spend (THB after refunds) or points earned in one currency,
  with an optional audience of tiers. ``draft`` → ``active`` (standings backfilled from the
  period so far) → ``closed`` (results frozen). Closing is one conditional
  ``UPDATE ... WHERE status = 'active'``: a race closes once.
- ``RacePrize``: what ranks ``rank_from..rank_to`` win: points and/or a coupon of a reward.
- ``Standing``: one row per (race, member): ``value`` and ``reached_at`` (when the value last
  rose). Changed only by an atomic upsert (``value = value + excluded.value``), never by a
  read-modify-write, so concurrent purchases never lose an increment. The ranking order is
  ``value DESC, reached_at ASC, member_id ASC`` (ties: who reached the amount first) and the
  index ``standing_rank`` has exactly that order, so a member's rank is one index range count.
- ``RaceContribution``: one row per event counted into a race (``purchase:{id}``,
  ``refund:{id}``, ``entry:{id}``), unique per race and written in the same transaction as
  the upsert: a redelivered or retried event changes nothing (append-only).
- ``RaceResult``: the frozen final ranking (rank, member, value) written by the close, with
  the prize given to each rank (ledger and coupon keys ``race:{race}:{rank}``).
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel


class Race(models.Model):
    class Metric(models.TextChoices):
        SPEND = "spend", _("Spend (THB, after refunds)")
        POINTS = "points", _("Points earned")

    class Period(models.TextChoices):
        WEEK = "week", _("Calendar week (Monday to Sunday, Bangkok)")
        MONTH = "month", _("Calendar month (Bangkok)")
        CUSTOM = "custom", _("Custom start and end")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        CLOSED = "closed", _("Closed")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="races")
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description (Thai)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    metric = models.CharField(_("ranked on"), max_length=16, choices=Metric.choices, default=Metric.SPEND)
    currency = models.ForeignKey(
        "loyalty.PointCurrency", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("currency"), help_text=_("For 'points earned'. Empty: the brand's default currency."),
    )
    period = models.CharField(_("period"), max_length=16, choices=Period.choices, default=Period.MONTH)
    starts_at = models.DateTimeField(_("starts at"), help_text=_(
        "For a week or a month: any moment inside it; the race runs over the whole Bangkok week or month."))
    ends_at = models.DateTimeField(_("ends at"), blank=True, help_text=_(
        "Only for a custom period (exclusive). Weeks and months end by themselves."))
    top_n = models.PositiveIntegerField(_("winners (top N)"), default=10, validators=[MinValueValidator(1)])
    audience_tiers = models.ManyToManyField(
        "loyalty.Tier", blank=True, related_name="+", verbose_name=_("audience tiers"),
        help_text=_("Only members in these tiers take part. Empty: every member."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("top spender race")
        verbose_name_plural = _("top spender races")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="race_ends_after_start"),
            models.CheckConstraint(condition=Q(top_n__gte=1), name="race_top_n_positive"),
        ]
        indexes = [models.Index(fields=["status", "ends_at"], name="race_status_end")]

    def __str__(self) -> str:
        return self.name_en or self.name

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def display_description(self, language: str) -> str:
        return self.description_en if language == "en" and self.description_en else self.description


class RacePrize(models.Model):
    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="prizes")
    rank_from = models.PositiveIntegerField(_("from rank"), validators=[MinValueValidator(1)])
    rank_to = models.PositiveIntegerField(_("to rank"), validators=[MinValueValidator(1)])
    points = models.PositiveIntegerField(_("points"), default=0)
    reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("coupon of reward"),
    )

    class Meta:
        verbose_name = _("prize")
        verbose_name_plural = _("prizes")
        ordering = ["rank_from"]
        constraints = [
            models.CheckConstraint(condition=Q(rank_from__gte=1) & Q(rank_to__gte=F("rank_from")),
                                   name="race_prize_rank_range"),
            models.CheckConstraint(condition=Q(points__gt=0) | Q(reward__isnull=False), name="race_prize_not_empty"),
        ]

    def __str__(self) -> str:
        ranks = f"#{self.rank_from}" if self.rank_from == self.rank_to else f"#{self.rank_from}-{self.rank_to}"
        parts = ([f"{self.points:,} pts"] if self.points else []) + ([str(self.reward)] if self.reward_id else [])
        return f"{ranks}: {' + '.join(parts)}"


class Standing(models.Model):
    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="standings")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, default=0)
    reached_at = models.DateTimeField(_("reached at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("standing")
        verbose_name_plural = _("standings")
        ordering = ["race", "-value", "reached_at", "member"]
        constraints = [models.UniqueConstraint(fields=["race", "member"], name="standing_one_per_member")]
        indexes = [models.Index(fields=["race", "-value", "reached_at", "member"], name="standing_rank")]

    def __str__(self) -> str:
        return f"{self.race_id} · {self.member_id}: {self.value}"


class RaceContribution(AppendOnlyModel):
    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="contributions")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("source"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    at = models.DateTimeField(_("at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("race contribution")
        verbose_name_plural = _("race contributions")
        constraints = [models.UniqueConstraint(fields=["race", "key"], name="race_contribution_once")]

    def __str__(self) -> str:
        return f"{self.key}: {self.amount}"


class RaceResult(models.Model):
    """A rank of the frozen final ranking. Written only by ``race_close`` (the prize links once granted)."""

    race = models.ForeignKey(Race, on_delete=models.PROTECT, related_name="results")
    rank = models.PositiveIntegerField(_("rank"))
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    reached_at = models.DateTimeField(_("reached at"))
    prize_points = models.PositiveIntegerField(_("prize points"), default=0)
    prize_reward = models.ForeignKey("loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("prize reward"))
    entry = models.ForeignKey("loyalty.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("points given"))
    coupon = models.ForeignKey("loyalty.Coupon", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("coupon given"))
    prize_note = models.CharField(_("prize note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("race result")
        verbose_name_plural = _("race results")
        ordering = ["race", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["race", "rank"], name="race_result_rank_once"),
            models.UniqueConstraint(fields=["race", "member"], name="race_result_member_once"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} · {self.member_id}: {self.value}"
