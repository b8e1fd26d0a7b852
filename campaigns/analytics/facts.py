"""Rebuilding the daily facts, set-based and idempotent (see models.py for what each table holds).

``facts_rebuild(start=, end=, brand_ids=)`` recomputes every fact of the Bangkok days
``start..end`` (inclusive) from purchases, members, redemptions and the ledger in three
statements, one per table, each ``INSERT … SELECT … ON CONFLICT DO UPDATE`` plus a ``DELETE`` of
the rows that no longer have a source (a purchase fully refunded since), and links the member
rows of the members it touched to their previous and next purchase days. Running it twice, or
concurrently with itself, gives the same rows as one run; the result equals a live computation.

``facts_refresh_today(brand=)`` rebuilds today's facts of one brand when they are older than
``ANALYTICS_TODAY_TTL`` seconds (default 300), so the dashboard shows today too.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import LedgerEntry, Purchase, Redemption
from members.models import Member

from .models import BrandDayFact, DimensionDayFact, MemberDayFact

BANGKOK = ZoneInfo("Asia/Bangkok")


def bangkok_today() -> date:
    return timezone.localtime(timezone.now(), BANGKOK).date()


def bangkok_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BANGKOK)


def _tables() -> dict:
    return {
        "purchase": Purchase._meta.db_table, "member": Member._meta.db_table,
        "ledger": LedgerEntry._meta.db_table, "redemption": Redemption._meta.db_table,
        "brand_fact": BrandDayFact._meta.db_table, "member_fact": MemberDayFact._meta.db_table,
        "dimension_fact": DimensionDayFact._meta.db_table,
    }


def _day(column: str) -> str:
    return f"({column} AT TIME ZONE 'Asia/Bangkok')::date"


_MEMBER_FACTS = """
WITH src AS (
    SELECT p.brand_id, {purchase_day} AS day, p.member_id, COUNT(*) AS purchases,
           SUM(p.total - p.refunded_total) AS spend
    FROM {purchase} p
    WHERE p.purchased_at >= %(t1)s AND p.purchased_at < %(t2)s AND p.status <> 'refunded' {brands_p}
    GROUP BY 1, 2, 3
), upsert AS (
    -- new rows come linked to their neighbours inside the range (a whole-history build writes each
    -- row once); the links across the range's edges are set by the next statement
    INSERT INTO {member_fact} AS f (brand_id, day, member_id, purchases, spend, prev_day, next_day)
    SELECT brand_id, day, member_id, purchases, spend,
           LAG(day) OVER w, LEAD(day) OVER w
    FROM src
    WINDOW w AS (PARTITION BY brand_id, member_id ORDER BY day)
    ON CONFLICT (brand_id, day, member_id) DO UPDATE
        SET purchases = EXCLUDED.purchases, spend = EXCLUDED.spend
        WHERE (f.purchases, f.spend) IS DISTINCT FROM (EXCLUDED.purchases, EXCLUDED.spend)
)
DELETE FROM {member_fact} f
WHERE f.day BETWEEN %(d1)s AND %(d2)s {brands_f}
  AND NOT EXISTS (SELECT 1 FROM src WHERE src.brand_id = f.brand_id AND src.day = f.day
                                         AND src.member_id = f.member_id)
RETURNING f.member_id
"""

# Re-link every row of the members whose rows were written or deleted to their previous and
# next purchase days (a window over those members' rows only; unchanged rows are not written).
_MEMBER_LINKS = """
WITH touched AS (
    SELECT DISTINCT f.member_id FROM {member_fact} f WHERE f.day BETWEEN %(d1)s AND %(d2)s {brands_f}
    UNION SELECT unnest(%(deleted)s::bigint[])
), linked AS (
    SELECT f.id, LAG(f.day) OVER w AS prev_day, LEAD(f.day) OVER w AS next_day
    FROM {member_fact} f JOIN touched t ON t.member_id = f.member_id
    WINDOW w AS (PARTITION BY f.brand_id, f.member_id ORDER BY f.day)
)
UPDATE {member_fact} f SET prev_day = l.prev_day, next_day = l.next_day
FROM linked l
WHERE f.id = l.id AND (f.prev_day, f.next_day) IS DISTINCT FROM (l.prev_day, l.next_day)
"""

_DIMENSION_FACTS = """
WITH src AS (
    SELECT p.brand_id, {purchase_day} AS day, 'branch' AS dimension, COALESCE(p.branch_id::text, '') AS key,
           COUNT(*) AS count, SUM(p.total - p.refunded_total) AS amount, 0::bigint AS points
    FROM {purchase} p
    WHERE p.purchased_at >= %(t1)s AND p.purchased_at < %(t2)s AND p.status <> 'refunded' {brands_p}
    GROUP BY 1, 2, 4
    UNION ALL
    SELECT r.brand_id, {redemption_day}, 'reward', r.reward_id::text, COUNT(*), 0, SUM(r.points)
    FROM {redemption} r
    WHERE r.created_at >= %(t1)s AND r.created_at < %(t2)s AND r.status = 'completed' {brands_r}
    GROUP BY 1, 2, 4
    UNION ALL
    SELECT e.brand_id, {ledger_day}, 'channel', e.channel, COUNT(*), 0, SUM(e.amount)
    FROM {ledger} e
    WHERE e.created_at >= %(t1)s AND e.created_at < %(t2)s AND e.kind = 'earn' {brands_e}
    GROUP BY 1, 2, 4
), upsert AS (
    INSERT INTO {dimension_fact} AS f (brand_id, day, dimension, key, count, amount, points)
    SELECT brand_id, day, dimension, key, count, amount, points FROM src
    ON CONFLICT (brand_id, day, dimension, key) DO UPDATE
        SET count = EXCLUDED.count, amount = EXCLUDED.amount, points = EXCLUDED.points
        WHERE (f.count, f.amount, f.points) IS DISTINCT FROM (EXCLUDED.count, EXCLUDED.amount, EXCLUDED.points)
)
DELETE FROM {dimension_fact} f
WHERE f.day BETWEEN %(d1)s AND %(d2)s {brands_f}
  AND NOT EXISTS (SELECT 1 FROM src WHERE src.brand_id = f.brand_id AND src.day = f.day
                                         AND src.dimension = f.dimension AND src.key = f.key)
"""

_BRAND_FACTS = """
WITH md AS (
    SELECT f.brand_id, f.day, SUM(f.purchases) AS purchases, COUNT(*) AS purchasers, SUM(f.spend) AS spend
    FROM {member_fact} f
    WHERE f.day BETWEEN %(d1)s AND %(d2)s {brands_f}
    GROUP BY 1, 2
), nm AS (
    SELECT m.brand_id, {member_day} AS day, COUNT(*) AS n
    FROM {member} m
    WHERE m.registered_at >= %(t1)s AND m.registered_at < %(t2)s {brands_m}
    GROUP BY 1, 2
), lg AS (
    SELECT e.brand_id, {ledger_day} AS day,
           COALESCE(SUM(e.amount) FILTER (WHERE e.kind = 'earn'), 0) AS issued,
           COALESCE(-SUM(e.amount) FILTER (WHERE e.kind = 'redeem'), 0) AS redeemed,
           COALESCE(-SUM(e.amount) FILTER (WHERE e.kind = 'expire'), 0) AS expired,
           COALESCE(-SUM(e.amount) FILTER (WHERE e.kind = 'reverse'), 0) AS reversed
    FROM {ledger} e
    WHERE e.created_at >= %(t1)s AND e.created_at < %(t2)s {brands_e}
    GROUP BY 1, 2
), keys AS (
    SELECT brand_id, day FROM md UNION SELECT brand_id, day FROM nm UNION SELECT brand_id, day FROM lg
), src AS (
    SELECT k.brand_id, k.day, COALESCE(nm.n, 0) AS new_members, COALESCE(md.purchases, 0) AS purchases,
           COALESCE(md.purchasers, 0) AS purchasers, COALESCE(md.spend, 0) AS spend,
           COALESCE(lg.issued, 0) AS issued, COALESCE(lg.redeemed, 0) AS redeemed,
           COALESCE(lg.expired, 0) AS expired, COALESCE(lg.reversed, 0) AS reversed
    FROM keys k
    LEFT JOIN md ON md.brand_id = k.brand_id AND md.day = k.day
    LEFT JOIN nm ON nm.brand_id = k.brand_id AND nm.day = k.day
    LEFT JOIN lg ON lg.brand_id = k.brand_id AND lg.day = k.day
), upsert AS (
    INSERT INTO {brand_fact} AS f (brand_id, day, new_members, purchases, purchasers, spend, points_issued,
                                   points_redeemed, points_expired, points_reversed, built_at)
    SELECT brand_id, day, new_members, purchases, purchasers, spend, issued, redeemed, expired, reversed, %(now)s
    FROM src
    ON CONFLICT (brand_id, day) DO UPDATE SET
        new_members = EXCLUDED.new_members, purchases = EXCLUDED.purchases, purchasers = EXCLUDED.purchasers,
        spend = EXCLUDED.spend, points_issued = EXCLUDED.points_issued,
        points_redeemed = EXCLUDED.points_redeemed, points_expired = EXCLUDED.points_expired,
        points_reversed = EXCLUDED.points_reversed, built_at = EXCLUDED.built_at
)
DELETE FROM {brand_fact} f
WHERE f.day BETWEEN %(d1)s AND %(d2)s {brands_f}
  AND NOT EXISTS (SELECT 1 FROM src WHERE src.brand_id = f.brand_id AND src.day = f.day)
"""


def _sql(template: str, brand_ids) -> str:
    def brand_filter(alias: str) -> str:
        return f"AND {alias}.brand_id = ANY(%(brands)s)" if brand_ids is not None else ""

    return template.format(
        **_tables(),
        purchase_day=_day("p.purchased_at"), redemption_day=_day("r.created_at"), ledger_day=_day("e.created_at"),
        member_day=_day("m.registered_at"),
        brands_p=brand_filter("p"), brands_r=brand_filter("r"), brands_e=brand_filter("e"),
        brands_f=brand_filter("f"), brands_m=brand_filter("m"),
    )


def facts_rebuild(*, start: date, end: date | None = None, brand_ids: list[int] | None = None) -> None:
    """Recompute the facts of Bangkok days ``start..end`` (inclusive; ``end`` defaults to ``start``)
    for ``brand_ids`` (None: every brand). Idempotent; one transaction."""
    end = end or start
    if end < start:
        raise ValueError("end before start")
    params = {"d1": start, "d2": end, "t1": bangkok_start(start), "t2": bangkok_start(end + timedelta(days=1)),
              "brands": list(brand_ids) if brand_ids is not None else None, "now": timezone.now()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_sql(_MEMBER_FACTS, brand_ids), params)
        params["deleted"] = sorted({row[0] for row in cursor.fetchall()})
        cursor.execute(_sql(_MEMBER_LINKS, brand_ids), params)
        cursor.execute(_sql(_DIMENSION_FACTS, brand_ids), params)
        cursor.execute(_sql(_BRAND_FACTS, brand_ids), params)


def facts_refresh_today(*, brand_id: int, force: bool = False, background: bool = False) -> bool:
    """Rebuild today's facts of the brand unless done within ``ANALYTICS_TODAY_TTL`` seconds.

    ``background``: queue ``tasks.facts_rebuild_days`` after commit instead (the dashboard does, so a
    page view never waits for it; the figures of today follow within seconds)."""
    today = bangkok_today()
    key = f"analytics:today:{brand_id}:{today.isoformat()}"
    if not force and cache.get(key):
        return False
    cache.set(key, 1, getattr(settings, "ANALYTICS_TODAY_TTL", 300))
    if background:
        from .tasks import facts_rebuild_days

        transaction.on_commit(lambda: facts_rebuild_days.delay(today.isoformat(), None, [brand_id]))
    else:
        facts_rebuild(start=today, brand_ids=[brand_id])
    return True


def facts_rebuild_recent(*, days: int | None = None) -> tuple[date, date]:
    """The nightly job: every brand's facts of the last ``days`` Bangkok days up to yesterday
    (``ANALYTICS_REBUILD_DAYS``, default 3: late POS uploads and refunds are picked up)."""
    days = days or getattr(settings, "ANALYTICS_REBUILD_DAYS", 3)
    end = bangkok_today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    facts_rebuild(start=start, end=end)
    return start, end
