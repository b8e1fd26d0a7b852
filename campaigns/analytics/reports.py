"""Report exports (CSV or XLSX) for members, purchases, ledger, redemptions and campaign results.

``report_export_create`` checks the filters against the brand, records the request and queues
``tasks.report_export_build`` after commit; ``report_export_build`` streams the rows into a
temporary file, updating ``written`` every ``PROGRESS_EVERY`` rows (the admin polls it), and
stores it through the default storage. A finished export is not built again; a retried one
starts over. Periods are Bangkok dates (``date_from`` 00:00 to the end of ``date_to``).
"""

import itertools
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from config.exports import export_job_write
from loyalty.models import LedgerEntry, Purchase, Redemption
from members.models import Branch, Brand, Member

from .facts import BANGKOK, bangkok_start
from .models import ReportExport

PROGRESS_EVERY = 1000
CHUNK = 2000

HEADERS = {
    "members": ["member_id", "code", "display_name", "first_name", "last_name", "phone", "email", "status",
                "gender", "birth_date", "language", "registered_at", "line_reachable"],
    "purchases": ["purchase_id", "purchased_at", "member_code", "branch", "channel", "order_id", "total",
                  "refunded_total", "status", "points_earned"],
    "ledger": ["entry_id", "created_at", "member_code", "currency", "kind", "channel", "amount", "balance_after",
               "reference", "expires_at"],
    "redemptions": ["redemption_id", "created_at", "member_code", "reward", "points", "channel", "status",
                    "coupon_code", "coupon_status"],
    "campaigns": ["campaign_type", "campaign_id", "campaign", "member_code", "result", "at"],
}


class ExportBranchNotFound(DomainError):
    code = "export_branch_not_found"
    message = _("This branch is not one of the brand's.")


def _local(value) -> str:
    return timezone.localtime(value, BANGKOK).isoformat() if value else ""


def _window(export: ReportExport, field: str) -> dict:
    filters = {}
    if export.date_from:
        filters[f"{field}__gte"] = bangkok_start(export.date_from)
    if export.date_to:
        filters[f"{field}__lt"] = bangkok_start(export.date_to + timedelta(days=1))
    return filters


def export_rows(export: ReportExport):
    """(count, iterator of rows) for the export's kind and filters, always within its brand."""
    brand = export.brand
    if export.kind == "members":
        rows = Member.objects.filter(brand=brand, **_window(export, "registered_at")).order_by("pk")
        if export.branch_id or export.channel:
            purchases = Purchase.objects.filter(brand=brand, **_window(export, "purchased_at"))
            if export.branch_id:
                purchases = purchases.filter(branch_id=export.branch_id)
            if export.channel:
                purchases = purchases.filter(channel=export.channel)
            rows = Member.objects.filter(brand=brand, pk__in=purchases.values("member_id")).order_by("pk")
        return rows.count(), (
            [m.pk, m.code, m.display_name, m.first_name, m.last_name, m.phone or "", m.email, m.status, m.gender,
             m.birth_date.isoformat() if m.birth_date else "", m.language, _local(m.registered_at),
             m.line_reachable] for m in rows.iterator(chunk_size=CHUNK))
    if export.kind == "purchases":
        rows = Purchase.objects.filter(brand=brand, **_window(export, "purchased_at")).order_by("purchased_at", "pk")
        if export.branch_id:
            rows = rows.filter(branch_id=export.branch_id)
        if export.channel:
            rows = rows.filter(channel=export.channel)
        return rows.count(), (
            [p.pk, _local(p.purchased_at), p.member.code, p.branch.code if p.branch else "", p.channel, p.order_id,
             p.total, p.refunded_total, p.status, p.points_earned]
            for p in rows.select_related("member", "branch").iterator(chunk_size=CHUNK))
    if export.kind == "ledger":
        rows = LedgerEntry.objects.filter(brand=brand, **_window(export, "created_at")).order_by("pk")
        if export.channel:
            rows = rows.filter(channel=export.channel)
        if export.branch_id:
            rows = rows.filter(purchase__branch_id=export.branch_id)
        return rows.count(), (
            [e.pk, _local(e.created_at), e.account.member.code, e.account.currency.code, e.kind, e.channel, e.amount,
             e.balance_after, e.reference, _local(e.expires_at)]
            for e in rows.select_related("account__member", "account__currency").iterator(chunk_size=CHUNK))
    if export.kind == "redemptions":
        rows = Redemption.objects.filter(brand=brand, **_window(export, "created_at")).order_by("pk")
        if export.channel:
            rows = rows.filter(channel=export.channel)
        if export.branch_id:
            rows = rows.filter(coupon__used_branch_id=export.branch_id)

        def redemption_row(r):
            coupon = getattr(r, "coupon", None)
            return [r.pk, _local(r.created_at), r.member.code, r.reward.name, r.points, r.channel, r.status,
                    coupon.code if coupon else "", coupon.status if coupon else ""]

        return rows.count(), (redemption_row(r) for r in
                              rows.select_related("member", "reward", "coupon").iterator(chunk_size=CHUNK))
    if export.kind == "campaigns":
        return _campaign_rows(export)
    raise ValueError(export.kind)


def _campaign_rows(export: ReportExport):
    """Mission completions, draw winners, race results and promotion coupons of the brand."""
    from django.apps import apps

    brand = export.brand
    parts = []
    if apps.is_installed("campaigns.missions"):
        from campaigns.missions.models import MissionProgress

        rows = MissionProgress.objects.filter(brand=brand, completed_at__isnull=False,
                                              **_window(export, "completed_at")).select_related("mission", "member")
        parts.append((rows, lambda p: ["mission", p.mission_id, str(p.mission), p.member.code,
                                       f"completed (cycle {p.cycle})", _local(p.completed_at)]))
    if apps.is_installed("campaigns.draws"):
        from campaigns.draws.models import DrawWinner

        rows = DrawWinner.objects.filter(draw__brand=brand, **_window(export, "created_at")).select_related(
            "draw", "member", "prize")
        parts.append((rows, lambda w: ["draw", w.draw_id, str(w.draw), w.member.code, f"won {w.prize}",
                                       _local(w.created_at)]))
    if apps.is_installed("campaigns.leaderboards"):
        from campaigns.leaderboards.models import RaceResult

        rows = RaceResult.objects.filter(race__brand=brand, **_window(export, "created_at")).select_related(
            "race", "member")
        parts.append((rows, lambda r: ["race", r.race_id, str(r.race), r.member.code,
                                       f"rank {r.rank}", _local(r.created_at)]))
    if apps.is_installed("campaigns.coupons"):
        from campaigns.coupons.models import CouponGrant

        rows = CouponGrant.objects.filter(rule__brand=brand, **_window(export, "created_at")).select_related(
            "rule", "member", "coupon")
        parts.append((rows, lambda g: ["coupon_promotion", g.rule_id, str(g.rule), g.member.code,
                                       f"coupon {g.coupon.code}", _local(g.created_at)]))
    total = sum(rows.count() for rows, _make in parts)
    return total, itertools.chain.from_iterable(
        (make(row) for row in rows.order_by("pk").iterator(chunk_size=CHUNK)) for rows, make in parts)


def report_export_create(*, brand: Brand, requested_by, kind: str, format: str = "csv",  # noqa: A002
                         date_from: date | None = None, date_to: date | None = None,
                         branch: Branch | None = None, channel: str = "") -> ReportExport:
    """Record an export request and queue its build after commit. The branch must be the brand's."""
    if branch is not None and branch.brand_id != brand.pk:
        raise ExportBranchNotFound()
    with transaction.atomic():
        export = ReportExport.objects.create(brand=brand, requested_by=requested_by, kind=kind, format=format,
                                             date_from=date_from, date_to=date_to, branch=branch, channel=channel)

        def queue():
            from .tasks import report_export_build as task

            task.delay(export.pk)

        transaction.on_commit(queue)
    return export


def report_export_build(*, export_id: int) -> ReportExport:
    """Write the export's file (CSV with a BOM, or XLSX) and store it (``config.exports.export_job_write``).

    A finished export is returned as is; a retried one is rebuilt from the start.
    """
    export = ReportExport.objects.select_related("brand").get(pk=export_id)
    if export.status == ReportExport.Status.DONE:
        return export
    total, rows = export_rows(export)
    stamp = timezone.localtime(timezone.now(), BANGKOK).strftime("%Y%m%d-%H%M%S")
    return export_job_write(
        export, total=total, rows=rows, header=HEADERS[export.kind], progress_every=PROGRESS_EVERY,
        filename=f"{export.kind}-{export.brand.slug}-{export.pk}-{stamp}.{export.format}",
        xlsx_sheet=export.get_kind_display() if export.format == ReportExport.Format.XLSX else "")
