"""Pre-aggregated daily facts for the staff dashboard, and report exports.

Design overview
---------------
The dashboard never scans purchases or the ledger for a period: it reads three small fact
tables, one row per Bangkok day (``facts.facts_rebuild`` writes them set-based with
``INSERT … SELECT … ON CONFLICT DO UPDATE`` and deletes what no longer exists, so a rebuild of
any day is idempotent and equals a live computation):

- ``BrandDayFact``: per brand and day: new members, purchases, net spend, points issued /
  redeemed / expired / reversed (all of the brand's currencies added up).
- ``MemberDayFact``: per brand, day and purchasing member: purchases, net spend and the
  member's previous and next purchase days. Distinct counts over any period (active members,
  repeat purchase rate, spend per member) cannot be added up from days; the neighbouring days
  turn them into one filtered count over the period's rows (a covering unique index on
  ``(brand, day, member)``), without grouping by member.
- ``DimensionDayFact``: per brand, day, dimension and key: counts / THB / points for the "top"
  lists and mixes (``branch``: purchases and spend; ``reward``: redemptions and points;
  ``channel``: points earned).

Purchases count when not fully refunded; spend is ``total - refunded_total``.

``ReportExport`` is one requested CSV/XLSX export (built by Celery with progress, downloaded
from the admin).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.exports import ExportJob


class BrandDayFact(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day (Bangkok)"))
    new_members = models.IntegerField(_("new members"), default=0)
    purchases = models.IntegerField(_("purchases"), default=0)
    purchasers = models.IntegerField(_("purchasing members"), default=0)
    spend = models.DecimalField(_("spend (THB)"), max_digits=16, decimal_places=2, default=0)
    points_issued = models.BigIntegerField(_("points issued"), default=0)
    points_redeemed = models.BigIntegerField(_("points redeemed"), default=0)
    points_expired = models.BigIntegerField(_("points expired"), default=0)
    points_reversed = models.BigIntegerField(_("points reversed"), default=0)
    built_at = models.DateTimeField(_("built at"))

    class Meta:
        verbose_name = _("daily brand fact")
        verbose_name_plural = _("daily brand facts")
        constraints = [models.UniqueConstraint(fields=["brand", "day"], name="analytics_brand_day_unique")]

    def __str__(self) -> str:
        return f"{self.brand_id} · {self.day}"


class MemberDayFact(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False,
                               db_constraint=False)
    purchases = models.IntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # The member's purchase days just before and after this one (NULL: none). With them a period's
    # distinct active and repeat members are one filtered count over its rows, no GROUP BY member:
    # the member's first row in the period is the one whose previous day lies before the period.
    prev_day = models.DateField(null=True)
    next_day = models.DateField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "day", "member"],
                                               include=["purchases", "spend", "prev_day", "next_day"],
                                               name="analytics_member_day_unique")]

    def __str__(self) -> str:
        return f"{self.brand_id} · {self.day} · {self.member_id}"


class DimensionDayFact(models.Model):
    class Dimension(models.TextChoices):
        BRANCH = "branch", _("Branch")
        REWARD = "reward", _("Reward")
        CHANNEL = "channel", _("Channel of earned points")

    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.CharField(max_length=64)
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "day", "dimension", "key"],
                                               name="analytics_dimension_day_unique")]
        indexes = [models.Index(fields=["brand", "dimension", "day"], name="analytics_dimension_lookup")]

    def __str__(self) -> str:
        return f"{self.brand_id} · {self.day} · {self.dimension}={self.key}"


class ReportExport(ExportJob):
    """A report export built by a Celery task with progress (``config.exports``: the status choices,
    ``percent``, the build and the admin responses)."""

    class Kind(models.TextChoices):
        MEMBERS = "members", _("Members")
        PURCHASES = "purchases", _("Purchases")
        LEDGER = "ledger", _("Points ledger")
        REDEMPTIONS = "redemptions", _("Redemptions")
        CAMPAIGNS = "campaigns", _("Campaign results")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX (Excel)"

    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("report"), max_length=16, choices=Kind.choices)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices, default=Format.CSV)
    date_from = models.DateField(_("from (Bangkok)"), null=True, blank=True)
    date_to = models.DateField(_("to (Bangkok)"), null=True, blank=True)
    branch = models.ForeignKey("members.Branch", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("branch"))
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=ExportJob.Status.choices,
                              default=ExportJob.Status.QUEUED)
    total = models.IntegerField(default=0)
    written = models.IntegerField(default=0)
    file = models.FileField(upload_to="analytics-exports/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("report export")
        verbose_name_plural = _("report exports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Dashboard(models.Model):
    """No table: gives the dashboard its entry in the admin index (and its view permission)."""

    class Meta:
        managed = False
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboard")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
