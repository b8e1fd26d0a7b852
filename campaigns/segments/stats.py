"""Per-member statistics and RFM scores, written set-based (issue 9).

Two writers, one SQL body, so the incremental path and the nightly rebuild agree by
construction:

- ``member_stats_refresh(member_id=)`` after a purchase or a refund (a Celery task queued
  by the domain-event subscribers): inside one transaction it makes sure the member's
  ``MemberStats`` row exists, locks it (``FOR UPDATE``), then recomputes the member's row
  and purchase months from the purchases in one upsert each. The statements run after the
  lock is held, so they see every purchase committed before: two refreshes of one member
  never lose each other's purchase, and a redelivered event recomputes the same values.
  Scores and the RFM group are left as the last nightly run set them (they are relative
  to the whole brand), except that a member left with no purchase loses them.
- ``member_stats_rebuild(brand=None)``, nightly: one ``INSERT ... SELECT ... GROUP BY ...
  ON CONFLICT DO UPDATE`` per brand, with ``NTILE(5)`` windows for the R/F/M scores
  (quintiles per brand) and the RFM group from the R/F map below; then the purchase months
  of the brand are rebuilt (delete + ``INSERT ... SELECT``) in a second transaction (the
  two never hold each other's locks, so a concurrent refresh cannot deadlock with them).

What counts: a fully refunded purchase is not a purchase (count, first/last purchase,
favourite branch, usual day/hour, purchase history); spend is ``total - refunded_total``
of every purchase; the average ticket is spend / purchases. Ties of the favourite branch,
usual weekday and usual hour go to the smallest value (PostgreSQL's ``mode()``). Weekday
is ISO (1 = Monday ... 7 = Sunday) and hour 0-23, both in Bangkok time.

RFM scores (1-5, 5 best) among the brand's members with at least one purchase: R orders
by the last purchase (most recent = 5), F by the purchase count, M by the spend; equal
values are split by member id so a rebuild is reproducible.
"""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import Purchase, PurchaseLine
from members.models import Member

from .models import MemberPurchaseMonth, MemberStats, RfmGroup

STATS = MemberStats._meta.db_table
MONTHS = MemberPurchaseMonth._meta.db_table
PURCHASES = Purchase._meta.db_table
LINES = PurchaseLine._meta.db_table
MEMBERS = Member._meta.db_table
REFUNDED = Purchase.Status.REFUNDED.value

# The R/F grid (rows R 1-5, columns F 1-5), the widely used RFM segment map on R and F
# scores (M refines nothing in it), with "Lost" as the R1/F1 corner of "Hibernating".
RFM_MAP: dict[str, list[tuple[int, int]]] = {
    RfmGroup.CHAMPIONS: [(5, 4), (5, 5)],
    RfmGroup.LOYAL_CUSTOMERS: [(3, 4), (3, 5), (4, 4), (4, 5)],
    RfmGroup.POTENTIAL_LOYALISTS: [(4, 2), (4, 3), (5, 2), (5, 3)],
    RfmGroup.NEW_CUSTOMERS: [(5, 1)],
    RfmGroup.PROMISING: [(4, 1)],
    RfmGroup.NEED_ATTENTION: [(3, 3)],
    RfmGroup.ABOUT_TO_SLEEP: [(3, 1), (3, 2)],
    RfmGroup.AT_RISK: [(1, 3), (1, 4), (2, 3), (2, 4)],
    RfmGroup.CANT_LOSE_THEM: [(1, 5), (2, 5)],
    RfmGroup.HIBERNATING: [(1, 2), (2, 1), (2, 2)],
    RfmGroup.LOST: [(1, 1)],
}


def rfm_group(recency: int, frequency: int) -> str:
    for group, cells in RFM_MAP.items():
        if (recency, frequency) in cells:
            return str(group)
    raise ValueError(f"no RFM group for R={recency} F={frequency}")


def _group_case(recency: str, frequency: str) -> str:
    branches = []
    for group, cells in RFM_MAP.items():
        cell_sql = " OR ".join(f"({recency} = {r} AND {frequency} = {f})" for r, f in cells)
        branches.append(f"WHEN {cell_sql} THEN '{group}'")
    return "CASE " + " ".join(branches) + " ELSE '' END"


BOUGHT = f"p.status <> '{REFUNDED}'"
LOCAL = "(p.purchased_at AT TIME ZONE 'Asia/Bangkok')"

# The member's aggregates; {where} picks the members (one member, or a brand).
AGGREGATES = f"""
    SELECT p.member_id, m.brand_id,
           MIN(p.purchased_at) FILTER (WHERE {BOUGHT}) AS first_purchase_at,
           MAX(p.purchased_at) FILTER (WHERE {BOUGHT}) AS last_purchase_at,
           COUNT(*) FILTER (WHERE {BOUGHT}) AS purchase_count,
           COALESCE(SUM(p.total - p.refunded_total), 0) AS total_spend,
           CASE WHEN COUNT(*) FILTER (WHERE {BOUGHT}) > 0
                THEN ROUND(SUM(p.total - p.refunded_total) / COUNT(*) FILTER (WHERE {BOUGHT}), 2) END
               AS average_ticket,
           mode() WITHIN GROUP (ORDER BY p.branch_id) FILTER (WHERE {BOUGHT} AND p.branch_id IS NOT NULL)
               AS favourite_branch_id,
           mode() WITHIN GROUP (ORDER BY EXTRACT(ISODOW FROM {LOCAL})::smallint) FILTER (WHERE {BOUGHT})
               AS usual_weekday,
           mode() WITHIN GROUP (ORDER BY EXTRACT(HOUR FROM {LOCAL})::smallint) FILTER (WHERE {BOUGHT})
               AS usual_hour
    FROM {PURCHASES} p JOIN {MEMBERS} m ON m.id = p.member_id
    WHERE {{where}}
    GROUP BY p.member_id, m.brand_id"""  # noqa: S608 - table names from model _meta

AGGREGATE_COLUMNS = ("brand_id", "first_purchase_at", "last_purchase_at", "purchase_count", "total_spend",
                     "average_ticket", "favourite_branch_id", "usual_weekday", "usual_hour")
SCORE_COLUMNS = ("recency_score", "frequency_score", "monetary_score", "rfm_group", "scored_at")


def _set(columns) -> str:
    return ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)


def _score(order: str) -> str:
    return (f"CASE WHEN g.purchase_count > 0 THEN NTILE(5) OVER (PARTITION BY g.brand_id, g.purchase_count > 0 "
            f"ORDER BY {order}, g.member_id) END")


REBUILD_SQL = f"""
    INSERT INTO {STATS} AS s (member_id, {", ".join(AGGREGATE_COLUMNS)}, {", ".join(SCORE_COLUMNS)}, updated_at)
    SELECT member_id, {", ".join(AGGREGATE_COLUMNS)}, r, f, m,
           CASE WHEN r IS NULL THEN '' ELSE {_group_case("r", "f")} END,
           CASE WHEN r IS NULL THEN NULL ELSE %(now)s::timestamptz END, %(now)s
    FROM (
        SELECT g.*, {_score("g.last_purchase_at")} AS r, {_score("g.purchase_count")} AS f,
               {_score("g.total_spend")} AS m
        FROM ({AGGREGATES.format(where="m.brand_id = ANY(%(brands)s)")}) g
    ) scored
    ON CONFLICT (member_id) DO UPDATE SET {_set(AGGREGATE_COLUMNS + SCORE_COLUMNS)}, updated_at = EXCLUDED.updated_at
"""  # noqa: S608 - table names from model _meta

REFRESH_SQL = f"""
    INSERT INTO {STATS} AS s (member_id, {", ".join(AGGREGATE_COLUMNS)}, rfm_group, updated_at)
    SELECT member_id, {", ".join(AGGREGATE_COLUMNS)}, '', %(now)s
    FROM ({AGGREGATES.format(where="p.member_id = %(member)s")}) g
    ON CONFLICT (member_id) DO UPDATE SET {_set(AGGREGATE_COLUMNS)}, updated_at = EXCLUDED.updated_at,
        recency_score = CASE WHEN EXCLUDED.purchase_count > 0 THEN s.recency_score END,
        frequency_score = CASE WHEN EXCLUDED.purchase_count > 0 THEN s.frequency_score END,
        monetary_score = CASE WHEN EXCLUDED.purchase_count > 0 THEN s.monetary_score END,
        rfm_group = CASE WHEN EXCLUDED.purchase_count > 0 THEN s.rfm_group ELSE '' END
"""  # noqa: S608 - table names from model _meta

# One row per member, kind (SKU / category), upper-cased code and Bangkok month.
MONTHS_SELECT = f"""
    SELECT p.member_id, m.brand_id, k.kind, k.code, date_trunc('month', {LOCAL})::date AS month,
           MIN(p.purchased_at), MAX(p.purchased_at), COUNT(DISTINCT p.id)
    FROM {PURCHASES} p
    JOIN {MEMBERS} m ON m.id = p.member_id
    JOIN {LINES} l ON l.purchase_id = p.id
    CROSS JOIN LATERAL (VALUES ('sku', upper(btrim(l.sku))), ('category', upper(btrim(l.category)))) AS k(kind, code)
    WHERE {BOUGHT} AND k.code <> '' AND {{where}}
    GROUP BY p.member_id, m.brand_id, k.kind, k.code, 5"""  # noqa: S608 - table names from model _meta

MONTHS_INSERT = f"""
    INSERT INTO {MONTHS} (member_id, brand_id, kind, code, month, first_at, last_at, purchases)
    {{select}}
    ON CONFLICT (member_id, kind, code, month) DO UPDATE SET
        first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at, purchases = EXCLUDED.purchases
"""  # noqa: S608 - table names from model _meta


def member_stats_refresh(*, member_id: int, now: datetime | None = None) -> MemberStats | None:
    """Recompute one member's statistics and purchase months from their purchases.

    Locks the member's ``MemberStats`` row (created first when missing) for the transaction,
    so concurrent refreshes of one member run one after the other and the last one sees
    every committed purchase. Idempotent. Returns the row (None: the member has no purchase).
    """
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {STATS} (member_id, brand_id, purchase_count, total_spend, rfm_group, updated_at) "  # noqa: S608
            f"SELECT m.id, m.brand_id, 0, 0, '', %s FROM {MEMBERS} m "
            f"WHERE m.id = %s AND EXISTS (SELECT 1 FROM {PURCHASES} p WHERE p.member_id = m.id) "
            "ON CONFLICT (member_id) DO NOTHING", [now, member_id])
        cursor.execute(f"SELECT 1 FROM {STATS} WHERE member_id = %s FOR UPDATE", [member_id])  # noqa: S608
        if cursor.fetchone() is None:
            return None
        cursor.execute(REFRESH_SQL, {"member": member_id, "now": now})
        cursor.execute(f"DELETE FROM {MONTHS} WHERE member_id = %s", [member_id])  # noqa: S608
        cursor.execute(MONTHS_INSERT.format(select=MONTHS_SELECT.format(where="p.member_id = %(member)s")),
                       {"member": member_id})
    return MemberStats.objects.get(pk=member_id)


def member_stats_rebuild(*, brand=None, now: datetime | None = None) -> dict:
    """Rebuild statistics, scores, groups and purchase months of one brand (None: every brand).

    Set-based, one brand at a time (scores are quintiles within a brand). Returns
    ``{"members": rows written, "months": purchase-month rows written}``.
    """
    from members.models import Brand

    now = now or timezone.now()
    brand_ids = [brand.pk] if brand is not None else list(Brand.objects.order_by("pk").values_list("pk", flat=True))
    written = {"members": 0, "months": 0}
    for brand_id in brand_ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(REBUILD_SQL, {"brands": [brand_id], "now": now})
            written["members"] += cursor.rowcount
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {MONTHS} WHERE brand_id = %s", [brand_id])  # noqa: S608
            cursor.execute(MONTHS_INSERT.format(select=MONTHS_SELECT.format(where="m.brand_id = %(brand)s")),
                           {"brand": brand_id})
            written["months"] += cursor.rowcount
    return written
