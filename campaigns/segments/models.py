"""Segments: saved, readable audience definitions (issue 9), and what they are counted over.

Design overview
- ``Segment.definition`` is a JSON tree: ``{"op": "and"|"or", "conditions": [...]}`` where
  each condition is ``{"type": <kind>, ...}`` or a nested group. ``campaigns.segments.conditions``
  validates it and compiles it into one SQL query over members and the tables below; a
  segment is evaluated at use (count, sample, send), never stored as a member list.
- ``MemberStats`` (one row per member who ever bought): first/last purchase, purchase count,
  spend after refunds, average ticket, favourite branch, usual weekday and hour (Bangkok),
  and the nightly R/F/M quintile scores with the RFM group. ``campaigns.segments.stats``
  writes it: per member after each purchase or refund (under the row's lock, recomputed
  from the member's purchases, so a redelivered event changes nothing), and for a whole
  brand in the set-based nightly rebuild (the only writer of scores and groups).
- ``MemberPurchaseMonth``: what each member bought, per SKU and per category and Bangkok
  month (first/last time, purchases). Purchase-history conditions read it instead of the
  purchase lines; it is maintained with ``MemberStats``. Fully refunded purchases count
  nowhere.
- ``MemberTag`` / ``MemberTagging``: staff labels, one tagging per (tag, member), same brand
  (checked by the services that write them).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="segments")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("conditions"), default=dict, blank=True)
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="segment_name_unique_per_brand")]

    def __str__(self) -> str:
        return self.name


class RfmGroup(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL_CUSTOMERS = "loyal_customers", _("Loyal Customers")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential Loyalists")
    NEW_CUSTOMERS = "new_customers", _("New Customers")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need Attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to Sleep")
    AT_RISK = "at_risk", _("At Risk")
    CANT_LOSE_THEM = "cant_lose_them", _("Can't Lose Them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class MemberStats(models.Model):
    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, primary_key=True,
                                  related_name="stats")
    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+", db_index=False)
    first_purchase_at = models.DateTimeField(_("first purchase"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    total_spend = models.DecimalField(_("spend after refunds (THB)"), max_digits=14, decimal_places=2, default=0)
    average_ticket = models.DecimalField(_("average ticket (THB)"), max_digits=12, decimal_places=2,
                                         null=True, blank=True)
    favourite_branch = models.ForeignKey("members.Branch", on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+", verbose_name=_("branch most visited"),
                                         db_index=False)
    usual_weekday = models.PositiveSmallIntegerField(_("usual weekday (1 = Monday)"), null=True, blank=True)
    usual_hour = models.PositiveSmallIntegerField(_("usual hour"), null=True, blank=True)
    recency_score = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True)
    frequency_score = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True)
    monetary_score = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True)
    rfm_group = models.CharField(_("RFM group"), max_length=24, choices=RfmGroup.choices, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("member statistics")
        verbose_name_plural = _("member statistics")
        indexes = [
            models.Index(fields=["brand", "rfm_group"], name="member_stats_rfm"),
            models.Index(fields=["brand", "favourite_branch"], name="member_stats_branch"),
            models.Index(fields=["brand", "usual_weekday", "usual_hour"], name="member_stats_usual_time"),
            models.Index(fields=["brand", "average_ticket"], name="member_stats_ticket"),
            models.Index(fields=["brand", "last_purchase_at"], name="member_stats_last_purchase"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(usual_weekday__isnull=True) | Q(usual_weekday__range=(1, 7)),
                                   name="member_stats_weekday_range"),
            models.CheckConstraint(condition=Q(usual_hour__isnull=True) | Q(usual_hour__range=(0, 23)),
                                   name="member_stats_hour_range"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.purchase_count} · {self.total_spend} THB"


class MemberPurchaseMonth(models.Model):
    class Kind(models.TextChoices):
        SKU = "sku", _("SKU")
        CATEGORY = "category", _("Category")

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    code = models.CharField(max_length=100, help_text=_("Upper case."))
    month = models.DateField(help_text=_("First day of the Bangkok month."))
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    purchases = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("member purchases in a month")
        verbose_name_plural = _("member purchases by month")
        constraints = [models.UniqueConstraint(fields=["member", "kind", "code", "month"],
                                               name="member_purchase_month_unique")]
        indexes = [models.Index(fields=["brand", "kind", "code", "month"], include=["member", "first_at", "last_at"],
                                name="member_purchase_month_code"),
                   # "Bought X, ever": a brand's buyers of a code in member order, merged with the
                   # members' id index without hashing hundreds of thousands of ids.
                   models.Index(fields=["brand", "kind", "code", "member"], name="member_purchase_code_member")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}:{self.code} {self.month:%Y-%m}"


class MemberTag(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="member_tags")
    name = models.CharField(_("name"), max_length=60)
    colour = models.CharField(_("colour"), max_length=7, default="#06c755",
                              help_text=_("A hex colour such as #06c755."))
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="member_tag_name_unique_per_brand"),
            models.CheckConstraint(condition=Q(colour__regex=r"^#[0-9A-Fa-f]{6}$"), name="member_tag_colour_hex"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberTagging(models.Model):
    tag = models.ForeignKey(MemberTag, on_delete=models.CASCADE, related_name="taggings", verbose_name=_("tag"),
                            db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="taggings",
                               verbose_name=_("member"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="+", verbose_name=_("tagged by"))
    at = models.DateTimeField(_("tagged at"), default=timezone.now)

    class Meta:
        verbose_name = _("member tagging")
        verbose_name_plural = _("member taggings")
        constraints = [models.UniqueConstraint(fields=["tag", "member"], name="member_tagging_unique")]

    def __str__(self) -> str:
        return f"{self.tag} · {self.member_id}"
