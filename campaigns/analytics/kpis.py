"""The dashboard's figures, read from the daily facts (and a few small live tables).

Definitions (docs/dashboard.md has the long form):

- new members: members whose ``registered_at`` falls in the period (Bangkok days);
- active members: members with at least one purchase (not fully refunded) in the period;
- repeat purchase rate: members with 2+ purchases in the period / active members;
- average spend per member: net spend (total − refunded) / active members;
- points issued: ``earn`` entries; redeemed / expired: ``redeem`` / ``expire`` entries (as positive
  numbers), all of the brand's currencies added up;
- redemption rate: points redeemed in the period / points issued in the period;
- liability: the points outstanding now (account balances = open lots) × the currency's
  point value, in THB.

Every function takes the brand: no figure reads another brand's rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils.translation import gettext as _

from loyalty.models import LedgerEntry, MemberTier, PointAccount, PointCurrency, Reward
from members.models import Branch, Brand

from .facts import bangkok_today
from .models import BrandDayFact, DimensionDayFact, MemberDayFact

CENT = Decimal("0.01")
PERIODS = ("this_month", "last_month", "last_30", "last_90", "custom")
EARNING_CHANNELS = ("pos", "cashier", "receipt", "claim_code", "ecommerce", "marketplace", "activity", "campaign")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period to compare with: the same days of the previous month for a period starting on
        the 1st within one month (month to date, a whole month), else the same length just before."""
        if self.start.day == 1 and (self.start.year, self.start.month) == (self.end.year, self.end.month):
            last = self.start - timedelta(days=1)
            first = last.replace(day=1)
            return Period(first, min(first + timedelta(days=self.end.day - 1), last))
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)


def period_for(name: str, *, today: date | None = None, start: date | None = None,
               end: date | None = None) -> Period:
    today = today or bangkok_today()
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    if name == "last_30":
        return Period(today - timedelta(days=29), today)
    if name == "last_90":
        return Period(today - timedelta(days=89), today)
    if name == "custom" and start and end:
        return Period(min(start, end), max(start, end))
    return Period(today.replace(day=1), today)  # this_month


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


# A member's first row in the period is the one whose previous purchase day lies before it; the
# member bought 2+ times in the period if that row holds 2+ purchases or the next day is in it.
_ACTIVE_SQL = f"""
    SELECT COUNT(*) FILTER (WHERE prev_day IS NULL OR prev_day < %(start)s),
           COUNT(*) FILTER (WHERE (prev_day IS NULL OR prev_day < %(start)s)
                              AND (purchases >= 2 OR next_day <= %(end)s)),
           COALESCE(SUM(spend), 0)
    FROM {MemberDayFact._meta.db_table}
    WHERE brand_id = %(brand)s AND day BETWEEN %(start)s AND %(end)s"""  # noqa: S608 - table name from model _meta


def period_kpis(*, brand: Brand, period: Period) -> dict:
    """The period's KPIs (numbers only) for one brand."""
    totals = BrandDayFact.objects.filter(brand=brand, day__range=(period.start, period.end)).aggregate(
        new_members=Sum("new_members"), purchases=Sum("purchases"), spend=Sum("spend"),
        points_issued=Sum("points_issued"), points_redeemed=Sum("points_redeemed"),
        points_expired=Sum("points_expired"))
    with transaction.atomic(), connection.cursor() as cursor:
        # one pass over the covering index; JIT compiles longer than this query runs
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_ACTIVE_SQL, {"brand": brand.pk, "start": period.start, "end": period.end})
        active, repeat, member_spend = cursor.fetchone()
    issued, redeemed = totals["points_issued"] or 0, totals["points_redeemed"] or 0
    return {
        "new_members": totals["new_members"] or 0,
        "active_members": active,
        "repeat_members": repeat,
        "repeat_rate": _ratio(repeat, active),
        "purchases": totals["purchases"] or 0,
        "spend": _money(totals["spend"]),
        "spend_per_member": _money(Decimal(member_spend) / active) if active else None,
        "points_issued": issued,
        "points_redeemed": redeemed,
        "points_expired": totals["points_expired"] or 0,
        "redemption_rate": _ratio(redeemed, issued),
    }


def liability(*, brand: Brand) -> dict:
    """Outstanding points now, per currency and in THB (balances equal the open lots' remaining)."""
    rows = (PointAccount.objects.filter(brand=brand).values("currency_id")
            .annotate(points=Sum("balance")).order_by("currency_id"))
    currencies = {c.pk: c for c in PointCurrency.objects.filter(pk__in=[row["currency_id"] for row in rows])}
    result = []
    for row in rows:
        currency = currencies[row["currency_id"]]
        points = int(row["points"] or 0)
        result.append({"code": currency.code, "name": currency.name, "points": points,
                       "value": _money(Decimal(points) * currency.point_value)})
    return {"currencies": result, "value": sum((row["value"] for row in result), Decimal("0.00"))}


def _dimension(brand: Brand, period: Period, dimension: str):
    return (DimensionDayFact.objects.filter(brand=brand, dimension=dimension, day__range=(period.start, period.end))
            .values("key").annotate(count=Sum("count"), amount=Sum("amount"), points=Sum("points")))


def top_rewards(*, brand: Brand, period: Period, limit: int = 5) -> list[dict]:
    rows = list(_dimension(brand, period, "reward").order_by("-count", "key")[:limit])
    names = dict(Reward.objects.filter(brand=brand, pk__in=[int(r["key"]) for r in rows]).values_list("pk", "name"))
    return [{"name": names.get(int(r["key"]), r["key"]), "redemptions": r["count"], "points": r["points"]}
            for r in rows]


def top_branches(*, brand: Brand, period: Period, limit: int = 5) -> list[dict]:
    rows = list(_dimension(brand, period, "branch").order_by("-amount", "key")[:limit])
    ids = [int(r["key"]) for r in rows if r["key"]]
    names = dict(Branch.objects.filter(brand=brand, pk__in=ids).values_list("pk", "name"))
    return [{"name": names.get(int(r["key"]), r["key"]) if r["key"] else _("No branch (online)"),
             "purchases": r["count"], "spend": _money(r["amount"])} for r in rows]


def channel_mix(*, brand: Brand, period: Period) -> list[dict]:
    points = {r["key"]: r["points"] for r in _dimension(brand, period, "channel")}
    labels = dict(LedgerEntry.Channel.choices)
    return [{"channel": key, "label": str(labels.get(key, key)), "points": int(points.get(key, 0))}
            for key in EARNING_CHANNELS]


def members_over_time(*, brand: Brand, period: Period) -> dict:
    """New members per day (per week beyond 62 days) and the running total of registered members."""
    before = BrandDayFact.objects.filter(brand=brand, day__lt=period.start).aggregate(n=Sum("new_members"))["n"] or 0
    by_day = dict(BrandDayFact.objects.filter(brand=brand, day__range=(period.start, period.end))
                  .values_list("day", "new_members"))
    step = 7 if period.days > 62 else 1
    labels, new, total = [], [], []
    running = before
    day = period.start
    while day <= period.end:
        bucket_end = min(day + timedelta(days=step - 1), period.end)
        added = sum(by_day.get(day + timedelta(days=i), 0) for i in range((bucket_end - day).days + 1))
        running += added
        labels.append(day.isoformat())
        new.append(added)
        total.append(running)
        day = bucket_end + timedelta(days=1)
    return {"labels": labels, "new": new, "total": total}


def points_by_week(*, brand: Brand, period: Period) -> dict:
    """Points issued / redeemed / expired per week (weeks start on Monday)."""
    weeks: dict[date, list[int]] = {}
    start = period.start - timedelta(days=period.start.weekday())
    day = start
    while day <= period.end:
        weeks[day] = [0, 0, 0]
        day += timedelta(days=7)
    for fact in BrandDayFact.objects.filter(brand=brand, day__range=(period.start, period.end)).values_list(
            "day", "points_issued", "points_redeemed", "points_expired"):
        week = fact[0] - timedelta(days=fact[0].weekday())
        for i in range(3):
            weeks[week][i] += fact[i + 1]
    labels = [week.isoformat() for week in weeks]
    return {"labels": labels, "issued": [v[0] for v in weeks.values()],
            "redeemed": [v[1] for v in weeks.values()], "expired": [v[2] for v in weeks.values()]}


def tier_distribution(*, brand: Brand) -> list[dict]:
    rows = (MemberTier.objects.filter(brand=brand).values("tier_id", "tier__name", "tier__name_en", "tier__color",
                                                          "tier__rank")
            .annotate(members=Count("member_id")).order_by("tier__rank"))
    return [{"name": row["tier__name"] or _("No tier"), "name_en": row["tier__name_en"] or "",
             "color": row["tier__color"] or "#cccccc", "members": row["members"]} for row in rows]


def rfm_groups(*, brand: Brand) -> list[dict] | None:
    """Members per RFM group from the segments app's statistics; None when not computed (yet)."""
    if not apps.is_installed("campaigns.segments"):
        return None
    try:
        from campaigns.segments.models import MemberStats, RfmGroup
    except ImportError:
        return None
    counts = dict(MemberStats.objects.filter(brand=brand).exclude(rfm_group="").values("rfm_group")
                  .annotate(n=Count("member_id")).values_list("rfm_group", "n"))
    if not counts:
        return None
    return [{"group": value, "label": str(label), "members": counts.get(value, 0)}
            for value, label in RfmGroup.choices]


def campaign_participation(*, brand: Brand, period: Period) -> list[dict]:
    """Members taking part in each kind of campaign during the period (rows started in it)."""
    from .facts import bangkok_start

    t1, t2 = bangkok_start(period.start), bangkok_start(period.end + timedelta(days=1))
    result = []

    def add(label: str, app: str, model: str, brand_field: str, extra: Q | None = None, member: str = "member"):
        if not apps.is_installed(app):
            return
        model_class = _model(app, model)
        if model_class is None:
            return
        rows = model_class.objects.filter(**{brand_field: brand, "created_at__gte": t1, "created_at__lt": t2})
        if extra is not None:
            rows = rows.filter(extra)
        result.append({"label": label, "entries": rows.count(),
                       "members": rows.values(member).distinct().count()})

    add(_("Missions joined"), "campaigns.missions", "MissionProgress", "brand")
    add(_("Missions completed"), "campaigns.missions", "MissionProgress", "brand", Q(completed_at__isnull=False))
    add(_("Lucky draw entries"), "campaigns.draws", "DrawEntry", "draw__brand")
    add(_("Race contributions"), "campaigns.leaderboards", "RaceContribution", "race__brand")
    add(_("Promotion coupons"), "campaigns.coupons", "CouponGrant", "rule__brand")
    return result


def _model(app: str, name: str):
    for config in apps.get_app_configs():
        if config.name == app:
            try:
                return config.get_model(name)
            except LookupError:
                return None
    return None


def period_kpis_cached(*, brand: Brand, period: Period) -> dict:
    """``period_kpis``, cached until any fact of the period is rebuilt (the key holds the newest
    ``built_at`` of the period's brand facts: a rebuild of any of its days changes it)."""
    built = BrandDayFact.objects.filter(brand=brand, day__range=(period.start, period.end)).aggregate(
        at=Max("built_at"))["at"]
    key = f"analytics:kpis:{brand.pk}:{period.start}:{period.end}:{built.timestamp() if built else 0}"
    result = cache.get(key)
    if result is None:
        result = period_kpis(brand=brand, period=period)
        cache.set(key, result, 24 * 3600)
    return result


LIVE_FIGURES = {
    "liability": lambda brand: liability(brand=brand),
    "tiers": lambda brand: tier_distribution(brand=brand),
    "rfm": lambda brand: rfm_groups(brand=brand),
}
LIVE_KEEP_SECONDS = 2 * 24 * 3600


def live_figures_refresh(*, brand: Brand) -> dict:
    """Recompute the current-state figures (liability, tiers, RFM: each reads all the brand's
    members) and keep them with the time they were computed."""
    now = time.time()
    values = {name: compute(brand) for name, compute in LIVE_FIGURES.items()}
    for name, value in values.items():
        cache.set(f"analytics:{name}:{brand.pk}", (now, value), LIVE_KEEP_SECONDS)
    cache.delete(f"analytics:live-refresh:{brand.pk}")
    return values


def _live_cached(name: str, brand: Brand):
    """A current-state figure, at most ANALYTICS_TODAY_TTL seconds old when fresh. Stale-while-
    revalidate: an older value is shown at once and one refresh is queued (after commit) in the
    background, so the page never waits for a scan of every member except the very first time."""
    key = f"analytics:{name}:{brand.pk}"
    kept = cache.get(key)
    if kept is None:
        return live_figures_refresh(brand=brand)[name]
    computed_at, value = kept
    if time.time() - computed_at > getattr(settings, "ANALYTICS_TODAY_TTL", 300) and cache.add(
            f"analytics:live-refresh:{brand.pk}", 1, 600):
        from .tasks import live_figures_refresh as refresh_task

        transaction.on_commit(lambda: refresh_task.delay(brand.pk))
    return value


STANDARD_PERIODS = ("this_month", "last_month", "last_30", "last_90")


def dashboard_warm(*, brand_ids: list[int] | None = None) -> int:
    """Compute and cache what the dashboard's standard periods show (and the periods they are
    compared with) and the current-state figures, for each brand; returns the brands warmed.
    Run after the nightly facts rebuild so the first view of the day does not wait."""
    brands = Brand.objects.all() if brand_ids is None else Brand.objects.filter(pk__in=brand_ids)
    warmed = 0
    for brand in brands.order_by("pk"):
        for name in STANDARD_PERIODS:
            period = period_for(name)
            period_kpis_cached(brand=brand, period=period)
            period_kpis_cached(brand=brand, period=period.previous())
        live_figures_refresh(brand=brand)
        warmed += 1
    return warmed


def dashboard_data(*, brand: Brand, period: Period, cached: bool = True) -> dict:
    """Everything the dashboard shows for one brand and period, with the previous period's KPIs."""
    previous_period = period.previous()
    if cached:
        current = period_kpis_cached(brand=brand, period=period)
        previous = period_kpis_cached(brand=brand, period=previous_period)
        money, tiers, rfm = (_live_cached(name, brand) for name in ("liability", "tiers", "rfm"))
    else:
        current = period_kpis(brand=brand, period=period)
        previous = period_kpis(brand=brand, period=previous_period)
        money, tiers, rfm = liability(brand=brand), tier_distribution(brand=brand), rfm_groups(brand=brand)
    return {
        "period": period, "previous_period": previous_period,
        "kpis": current, "previous": previous,
        "liability": money,
        "top_rewards": top_rewards(brand=brand, period=period),
        "top_branches": top_branches(brand=brand, period=period),
        "charts": {
            "members": members_over_time(brand=brand, period=period),
            "points": points_by_week(brand=brand, period=period),
            "tiers": tiers,
            "rfm": rfm,
            "channels": channel_mix(brand=brand, period=period),
            "campaigns": campaign_participation(brand=brand, period=period),
        },
    }
