"""Membership tiers: qualification, upgrade on purchase, the nightly review, staff overrides.

Design (docs/tiers.md has the full rules):

- The qualifying value is per ``TierProgram.metric`` over a window: spend = Σ(total −
  refunded_total) of the member's purchases; points = Σ EARN and REVERSE entries of the
  program's currency (the brand's default when empty); purchases = number not fully
  refunded. Windows and period ends are Bangkok dates: a calendar year, or a rolling
  window of ``rolling_months``.
- ``member_tier_evaluate`` runs after a purchase committed (``purchase_recorded``): under a
  ``SELECT ... FOR UPDATE`` of the ``MemberTier`` row it upgrades at once (or renews a
  member in grace who qualifies again). It never downgrades; refunds wait for the review.
  The purchase that crosses a threshold has already earned at the old tier's multiplier.
- ``tiers_review`` is the nightly, set-based review (SQL over the members due, chunked by
  member-id ranges; no Python loop over members). Its cutoff is the start of the Bangkok
  day, so a second run the same day finds nobody due and changes nothing.
- ``tier_override``: staff set a tier until a date, with a reason.
- Every change is a ``TierChange`` row. Changes that members should hear about leave as the
  ``tier_changed`` event (one change) or ``tiers_reviewed`` (a review run; the subscriber
  fans out in batches), after commit. ``loyalty`` never imports ``messaging``.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Min, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError, ValidationFailed
from config.rows import Rows
from loyalty import events
from loyalty.models import (
    JobRun,
    LedgerEntry,
    MemberTier,
    PointCurrency,
    Purchase,
    Tier,
    TierChange,
    TierProgram,
)
from members.models import Brand, Member

from .ledger import BANGKOK, add_months

log = logging.getLogger(__name__)

TIER_CHANGED = "tier_changed"  # payload: tier_change_id, member_id, kind
TIERS_REVIEWED = "tiers_reviewed"  # payload: brand_id, run_key
NOTIFY_KINDS = (TierChange.Kind.UPGRADE, TierChange.Kind.DOWNGRADE, TierChange.Kind.LAPSE)
REVIEW_CHUNK = 250_000  # member ids per review transaction
JOB_NAME = "tiers_review"


class RewardTierRequired(DomainError):
    code = "reward_tier_required"
    message = _("This reward is only for members of a higher tier.")


# --- periods ---------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BANGKOK)


def bangkok_date(moment: datetime) -> date:
    return timezone.localtime(moment, BANGKOK).date()


def review_cutoff(now: datetime) -> datetime:
    """The start (00:00 Bangkok) of ``now``'s Bangkok day."""
    return _midnight(bangkok_date(now))


def period_end(program: TierProgram, now: datetime) -> datetime:
    """Until when a tier reached at ``now`` holds (its next review).

    Calendar year: through the end of the next calendar year (1 January of year + 2,
    00:00 Bangkok). Rolling: ``now``'s Bangkok date + ``rolling_months``, at the following
    midnight.
    """
    today = bangkok_date(now)
    if program.period == TierProgram.Period.CALENDAR_YEAR:
        return _midnight(date(today.year + 2, 1, 1))
    return _midnight(add_months(today, program.rolling_months) + timedelta(days=1))


def current_window(program: TierProgram, now: datetime) -> tuple[datetime, datetime]:
    """The window a purchase at ``now`` counts in: this Bangkok calendar year, or the last N months."""
    today = bangkok_date(now)
    if program.period == TierProgram.Period.CALENDAR_YEAR:
        return _midnight(date(today.year, 1, 1)), _midnight(date(today.year + 1, 1, 1))
    return _midnight(add_months(today, -program.rolling_months) + timedelta(days=1)), _midnight(
        today + timedelta(days=1))


def program_for(brand_id: int) -> TierProgram | None:
    return TierProgram.objects.select_related("currency").filter(brand_id=brand_id, is_active=True).first()


def program_currency_id(program: TierProgram) -> int | None:
    if program.currency_id:
        return program.currency_id
    return PointCurrency.objects.filter(brand_id=program.brand_id, is_default=True).values_list("pk", flat=True).first()


def brand_tiers(brand_id: int) -> list[Tier]:
    return list(Tier.objects.filter(brand_id=brand_id).order_by("rank"))


def entry_tier(tiers: list[Tier]) -> Tier | None:
    """The lowest tier when it needs nothing (threshold 0): every member is in it."""
    return tiers[0] if tiers and tiers[0].threshold == 0 else None


def tier_for_value(tiers: list[Tier], value: Decimal) -> Tier | None:
    """The highest-rank tier whose threshold the value reaches (None: none).

    A negative value (more points reversed than earned in the period) reaches what 0 reaches:
    a threshold-0 entry tier holds for every member.
    """
    value = max(value, Decimal("0"))
    reached = [tier for tier in tiers if tier.threshold <= value]
    return max(reached, key=lambda tier: tier.rank) if reached else None


def member_tier_value(*, member_id: int, program: TierProgram, start: datetime, end: datetime) -> Decimal:
    """The member's qualifying value in ``[start, end)`` under the program's metric (the program's brand only)."""
    if program.metric == TierProgram.Metric.POINTS:
        total = LedgerEntry.objects.filter(
            account__member_id=member_id, account__brand_id=program.brand_id,
            account__currency_id=program_currency_id(program),
            kind__in=[LedgerEntry.Kind.EARN, LedgerEntry.Kind.REVERSE], created_at__gte=start, created_at__lt=end,
        ).aggregate(total=Sum("amount"))["total"]
        return Decimal(total or 0)
    purchases = Purchase.objects.filter(member_id=member_id, brand_id=program.brand_id, purchased_at__gte=start,
                                        purchased_at__lt=end)
    if program.metric == TierProgram.Metric.PURCHASES:
        return Decimal(purchases.exclude(status=Purchase.Status.REFUNDED).aggregate(n=Count("pk"))["n"])
    total = purchases.aggregate(total=Sum(F("total") - F("refunded_total")))["total"]
    return Decimal(total or 0)


def member_tier_counts_until(*, member_id: int, program: TierProgram, now: datetime) -> date | None:
    """Rolling window: the last Bangkok day on which the member's current value still counts whole.

    The value of the window ``current_window(now)`` starts to shrink on the day its earliest
    contribution (purchase or earn entry) leaves the window; None when nothing counts yet.
    """
    start, end = current_window(program, now)
    if program.metric == TierProgram.Metric.POINTS:
        first = LedgerEntry.objects.filter(
            account__member_id=member_id, account__brand_id=program.brand_id,
            account__currency_id=program_currency_id(program), kind=LedgerEntry.Kind.EARN, amount__gt=0,
            created_at__gte=start, created_at__lt=end,
        ).aggregate(first=Min("created_at"))["first"]
    else:
        first = Purchase.objects.filter(
            member_id=member_id, brand_id=program.brand_id, purchased_at__gte=start, purchased_at__lt=end,
            total__gt=F("refunded_total"),
        ).aggregate(first=Min("purchased_at"))["first"]
    if first is None:
        return None
    return add_months(bangkok_date(first), program.rolling_months) - timedelta(days=1)


# --- upgrade at once ----------------------------------------------------------------------------


def _change(member_tier: MemberTier, *, kind: str, from_tier: Tier | None, value=None, staff_user=None,
            reason: str = "") -> TierChange:
    change = TierChange.objects.create(
        brand_id=member_tier.brand_id, member_id=member_tier.member_id, kind=kind, from_tier=from_tier,
        to_tier=member_tier.tier, value=value, qualified_until=member_tier.qualified_until, staff_user=staff_user,
        reason=reason,
    )
    events.emit(TIER_CHANGED, tier_change_id=change.pk, member_id=member_tier.member_id, kind=kind)
    return change


def member_tier_get_or_create(*, member: Member, program: TierProgram | None = None,
                              now: datetime | None = None, tiers: list[Tier] | None = None) -> MemberTier:
    """The member's tier row; a new row starts in the entry tier (threshold 0) when the brand has one.

    ``tiers``: the brand's tiers (``brand_tiers``) when the caller already read them."""
    now = now or timezone.now()
    program = program or program_for(member.brand_id)
    entry = entry_tier(tiers if tiers is not None else brand_tiers(member.brand_id)) if program else None
    row, _created = MemberTier.objects.get_or_create(member_id=member.pk, defaults={
        "brand_id": member.brand_id, "tier": entry, "achieved_at": now if entry else None,
        "qualified_until": period_end(program, now) if entry else None})
    return row


def member_tier_evaluate(*, member_id: int, now: datetime | None = None) -> TierChange | None:
    """Upgrade the member at once when their current-period value reaches a higher tier.

    Locks the member's ``MemberTier`` row (created first when missing), so two concurrent
    purchases upgrade once. A member in grace who qualifies for their tier again is renewed
    (grace cleared); one who reaches a tier above the one their grace would end in now lands
    in that one when it ends (a silent GRACE change). Never downgrades. Returns the change
    written, or None.
    """
    now = now or timezone.now()
    member = Member.objects.filter(pk=member_id).first()
    program = program_for(member.brand_id) if member else None
    if program is None:
        return None
    tiers = brand_tiers(member.brand_id)
    if not tiers:
        return None
    start, end = current_window(program, now)
    by_id = {tier.pk: tier for tier in tiers}
    with transaction.atomic():
        # No select_related here: after waiting for the lock, PostgreSQL re-reads the locked row but
        # keeps the joined tier row it read before, so a joined tier could be the stale one.
        row = MemberTier.objects.select_for_update().filter(pk=member_id).first()
        if row is None:  # the first purchase: create the row (entry tier), then lock it
            member_tier_get_or_create(member=member, program=program, now=now, tiers=tiers)
            row = MemberTier.objects.select_for_update().get(pk=member_id)
        if row.tier_id in by_id:
            row.tier = by_id[row.tier_id]  # the brand's tiers were just read: no query for the row's
        value = member_tier_value(member_id=member_id, program=program, start=start, end=end)
        qualified = tier_for_value(tiers, value)
        if qualified is None:
            return None
        current_rank = row.tier.rank if row.tier else -1
        if qualified.rank > current_rank:
            kind = TierChange.Kind.UPGRADE
        elif qualified.rank == current_rank and row.grace_until is not None:
            kind = TierChange.Kind.RENEWAL
        elif row.grace_until is not None and (row.grace_tier_id is None or qualified.rank > _rank(row.grace_tier_id)):
            # In grace, short of their tier but above where the grace would end: they land there instead.
            row.grace_tier = qualified
            row.save(update_fields=["grace_tier", "updated_at"])
            return TierChange.objects.create(
                brand_id=row.brand_id, member_id=row.member_id, kind=TierChange.Kind.GRACE, from_tier=row.tier,
                to_tier=qualified, value=value, qualified_until=row.grace_until)
        else:
            return None
        from_tier = row.tier
        row.tier, row.qualified_until = qualified, period_end(program, now)
        row.grace_until = row.grace_tier = None
        if kind == TierChange.Kind.UPGRADE:
            row.achieved_at = now
            # The member now holds a tier of their own; a staff override below it has no more effect.
            row.override_until, row.override_reason, row.override_by = None, "", None
        row.save()
        return _change(row, kind=kind, from_tier=from_tier, value=value)


def _rank(tier_id: int) -> int:
    return Tier.objects.filter(pk=tier_id).values_list("rank", flat=True).get()


@events.subscribe(events.PURCHASE_RECORDED, in_worker=True)
def upgrade_on_purchase(*, member_id: int, **_payload) -> None:
    """After a purchase committed, in the worker: upgrade at once (idempotent: a second evaluation
    finds the member already there; a failure is retried alone, and the nightly review catches up)."""
    member_tier_evaluate(member_id=member_id)


# --- staff override -----------------------------------------------------------------------------


def tier_override(*, member: Member, tier: Tier | None, until: datetime, reason: str, staff_user) -> TierChange:
    """Staff put ``member`` in ``tier`` (None: no tier) until ``until``, with a reason.

    Locks the ``MemberTier`` row; sets the tier, ``override_until`` and ``qualified_until``
    to ``until`` (the nightly review leaves the member alone until then, then reviews them
    like anyone else) and clears a grace period. Writes a ``TierChange`` OVERRIDE with the
    staff user. Raises ``ValidationFailed`` without a reason, for another brand's tier or an
    end in the past.
    """
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = [str(_("Give a reason."))]
    if tier is not None and tier.brand_id != member.brand_id:
        errors["tier"] = [str(_("The tier must belong to the member's brand."))]
    now = timezone.now()
    if until <= now:
        errors["until"] = [str(_("The end date must be in the future."))]
    if errors:
        raise ValidationFailed(fields=errors)
    member_tier_get_or_create(member=member, now=now)
    with transaction.atomic():
        row = MemberTier.objects.select_for_update().get(pk=member.pk)
        from_tier = row.tier
        if tier != from_tier:
            row.achieved_at = now
        row.tier, row.override_until, row.qualified_until = tier, until, until
        row.override_reason, row.override_by = reason, staff_user
        row.grace_until = row.grace_tier = None
        row.save()
        return _change(row, kind=TierChange.Kind.OVERRIDE, from_tier=from_tier, staff_user=staff_user,
                       reason=reason)


# --- benefits -----------------------------------------------------------------------------------


def program_state(brand_id: int) -> str:
    """The brand's tier program: "none" (no program), "off" (switched off: nobody has a tier) or "on"."""
    program = TierProgram.objects.filter(brand_id=brand_id).only("is_active").first()
    return "none" if program is None else ("on" if program.is_active else "off")


_TIER_ROW = Rows(MemberTier, where="t.member_id = %s", related=("tier",))  # read on every earn: compiled once


def member_tier(member: Member, *, known: tuple[str, Tier | None] | None = None) -> Tier | None:
    """The member's current tier (None: none).

    A member without a ``MemberTier`` row yet is in the entry tier (threshold 0) when the
    brand runs an active program with one, as the portal shows them. While the brand's
    program is switched off nobody has a tier: no multiplier, no tier rewards. ``known``: the
    brand's ``(program_state, entry tier)`` when the caller already read them (the earn
    configuration snapshot); then only the member's row is read.
    """
    program, entry = known if known is not None else (program_state(member.brand_id), None)
    if program == "off":
        return None
    row = _TIER_ROW.first([member.pk])
    if row is not None:
        return row.tier
    if program == "none":
        return None
    return entry if known is not None else entry_tier(brand_tiers(member.brand_id))


def reward_tier_check(*, member: Member, reward) -> None:
    """Raise ``RewardTierRequired`` when the reward needs a tier above the member's."""
    if reward.min_tier_id is None:
        return
    tier = member_tier(member)
    required = reward.min_tier
    if tier is None or tier.rank < required.rank:
        raise RewardTierRequired(required=required.code)


# --- the nightly review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewTables:
    member_tier: str = MemberTier._meta.db_table
    tier: str = Tier._meta.db_table
    change: str = TierChange._meta.db_table
    purchase: str = Purchase._meta.db_table
    entry: str = LedgerEntry._meta.db_table
    account: str = LedgerEntry._meta.get_field("account").related_model._meta.db_table
    member: str = Member._meta.db_table


T = ReviewTables()


def _value_sql(program: TierProgram) -> str:
    """SQL: (member_id, value) for every due member (temp table tier_due), over its window."""
    if program.metric == TierProgram.Metric.POINTS:
        return f"""
            SELECT d.member_id, COALESCE(SUM(e.amount), 0) AS value
            FROM tier_due d
            LEFT JOIN {T.account} a ON a.member_id = d.member_id AND a.brand_id = %(brand)s
                 AND a.currency_id = %(currency)s AND a.member_id >= %(low)s AND a.member_id < %(high)s
            LEFT JOIN {T.entry} e ON e.account_id = a.id AND e.kind IN ('earn', 'reverse')
                 AND e.created_at >= d.window_start AND e.created_at < d.window_end
            GROUP BY d.member_id"""  # noqa: S608 - table names from model _meta
    if program.metric == TierProgram.Metric.PURCHASES:
        measure = "COUNT(p.id) FILTER (WHERE p.status <> 'refunded')"
    else:
        measure = "COALESCE(SUM(p.total - p.refunded_total), 0)"
    return f"""
        SELECT d.member_id, {measure} AS value
        FROM tier_due d
        LEFT JOIN {T.purchase} p ON p.member_id = d.member_id AND p.brand_id = %(brand)s
             AND p.member_id >= %(low)s AND p.member_id < %(high)s
             AND p.purchased_at >= d.window_start AND p.purchased_at < d.window_end
        GROUP BY d.member_id"""  # noqa: S608 - table names from model _meta


def _review_chunk(cursor, program: TierProgram, params: dict) -> dict:
    """Review the due members with ids in ``[low, high)``; returns counts by kind."""
    if program.period == TierProgram.Period.CALENDAR_YEAR:
        length = "interval '1 year'"
    else:
        length = "make_interval(months => %(months)s::int)"
    cursor.execute(f"""
        CREATE TEMP TABLE tier_due ON COMMIT DROP AS
        SELECT mt.member_id, mt.tier_id, t.rank, mt.qualified_until, mt.grace_until, mt.grace_tier_id,
               mt.override_until,
               ((mt.qualified_until AT TIME ZONE 'Asia/Bangkok') - {length}) AT TIME ZONE 'Asia/Bangkok'
                   AS window_start,
               mt.qualified_until AS window_end
        FROM {T.member_tier} mt LEFT JOIN {T.tier} t ON t.id = mt.tier_id
        WHERE mt.brand_id = %(brand)s AND mt.member_id >= %(low)s AND mt.member_id < %(high)s
          AND mt.qualified_until <= %(cutoff)s
          AND (mt.grace_until IS NULL OR mt.grace_until <= %(cutoff)s)
          AND (mt.override_until IS NULL OR mt.override_until <= %(cutoff)s)""", params)  # noqa: S608 - table names from model _meta
    if cursor.rowcount == 0:
        cursor.execute("DROP TABLE tier_due")
        return {}
    cursor.execute("ANALYZE tier_due")  # the planner's row estimate decides hash join vs index lookups
    # One decision per due member: Q = the highest tier the value reaches; keep, grace, downgrade or lapse.
    cursor.execute(f"""
        CREATE TEMP TABLE tier_decision ON COMMIT DROP AS
        WITH tiers AS (SELECT id, rank, threshold FROM {T.tier} WHERE brand_id = %(brand)s),
        vals AS ({_value_sql(program)}),
        judged AS (
            SELECT d.*, v.value, q.id AS q_tier, q.rank AS q_rank
            FROM tier_due d JOIN vals v USING (member_id)
            LEFT JOIN LATERAL (SELECT id, rank FROM tiers WHERE threshold <= GREATEST(v.value, 0)
                               ORDER BY rank DESC LIMIT 1) q ON true
        )
        SELECT member_id, tier_id AS from_tier, value,
            CASE
                WHEN tier_id IS NULL AND q_tier IS NULL THEN 'idle'
                WHEN COALESCE(q_rank, -1) >= COALESCE(rank, -1) THEN
                    CASE WHEN q_tier = tier_id THEN 'renewal' ELSE 'upgrade' END
                WHEN %(grace_days)s::int > 0 AND grace_until IS NULL THEN 'grace'
                WHEN grace_until IS NOT NULL THEN CASE WHEN grace_tier_id IS NULL THEN 'lapse' ELSE 'downgrade' END
                WHEN q_tier IS NULL THEN 'lapse'
                ELSE 'downgrade'
            END AS kind,
            CASE
                WHEN tier_id IS NULL AND q_tier IS NULL THEN NULL
                WHEN COALESCE(q_rank, -1) >= COALESCE(rank, -1) THEN q_tier
                WHEN %(grace_days)s::int > 0 AND grace_until IS NULL THEN tier_id
                WHEN grace_until IS NOT NULL THEN grace_tier_id
                ELSE q_tier
            END AS to_tier,
            q_tier, qualified_until, grace_until, grace_tier_id, override_until
        FROM judged""", params)  # noqa: S608 - table names from model _meta
    # The decision was taken on the rows as this statement's snapshot saw them, without locks. A row
    # changed since (an upgrade on purchase, a staff override, another run of this review) is left
    # alone: the UPDATE re-checks these columns on the newest row version after waiting for its lock,
    # and the decisions it did not apply are dropped, so no TierChange is written for them.
    cursor.execute(f"""
        WITH applied AS (
        UPDATE {T.member_tier} mt SET
            tier_id = d.to_tier,
            achieved_at = CASE WHEN d.to_tier IS DISTINCT FROM d.from_tier THEN %(now)s ELSE mt.achieved_at END,
            qualified_until = CASE d.kind WHEN 'idle' THEN NULL WHEN 'grace' THEN mt.qualified_until
                                          ELSE %(next_end)s END,
            grace_until = CASE WHEN d.kind = 'grace' THEN %(grace_end)s END,
            grace_tier_id = CASE WHEN d.kind = 'grace' THEN d.q_tier END,
            override_until = NULL, override_reason = '', override_by_id = NULL,
            updated_at = %(now)s
        FROM tier_decision d
        WHERE mt.member_id = d.member_id
          AND mt.tier_id IS NOT DISTINCT FROM d.from_tier
          AND mt.qualified_until IS NOT DISTINCT FROM d.qualified_until
          AND mt.grace_until IS NOT DISTINCT FROM d.grace_until
          AND mt.grace_tier_id IS NOT DISTINCT FROM d.grace_tier_id
          AND mt.override_until IS NOT DISTINCT FROM d.override_until
        RETURNING mt.member_id)
        DELETE FROM tier_decision d WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.member_id = d.member_id)
        """, params)  # noqa: S608 - table names from model _meta
    cursor.execute(f"""
        INSERT INTO {T.change} (brand_id, member_id, kind, from_tier_id, to_tier_id, value, qualified_until,
                                staff_user_id, reason, run_key, created_at)
        SELECT %(brand)s, d.member_id, d.kind, d.from_tier,
               CASE WHEN d.kind = 'grace' THEN d.q_tier ELSE d.to_tier END, d.value,
               CASE WHEN d.kind = 'grace' THEN %(grace_end)s ELSE %(next_end)s END,
               NULL, '', %(run_key)s, %(now)s
        FROM tier_decision d WHERE d.kind <> 'idle' ORDER BY d.member_id""", params)  # noqa: S608 - table names from model _meta
    cursor.execute("SELECT kind, COUNT(*) FROM tier_decision GROUP BY kind")
    counts = dict(cursor.fetchall())
    cursor.execute("DROP TABLE tier_due; DROP TABLE tier_decision")
    return counts


def _enter_new_members(cursor, params: dict) -> int:
    """Members without a tier row join the entry tier (threshold 0), set-based."""
    cursor.execute(f"""
        INSERT INTO {T.member_tier} (member_id, brand_id, tier_id, achieved_at, qualified_until, override_reason,
                                     updated_at)
        SELECT m.id, m.brand_id, %(entry)s, %(now)s, %(entry_until)s, '', %(now)s
        FROM {T.member} m
        WHERE m.brand_id = %(brand)s AND m.status = 'active'
          AND NOT EXISTS (SELECT 1 FROM {T.member_tier} mt WHERE mt.member_id = m.id)
        ON CONFLICT (member_id) DO NOTHING""", params)  # noqa: S608 - table names from model _meta
    return cursor.rowcount


def next_review_end(program: TierProgram, cutoff: datetime) -> datetime:
    """Where a reviewed member's next review falls (always after ``cutoff``).

    Calendar: 1 January of the year after the cutoff's (on 1 January: qualified_until +
    1 year). Rolling: the cutoff's date + ``rolling_months``.
    """
    day = bangkok_date(cutoff)
    if program.period == TierProgram.Period.CALENDAR_YEAR:
        return _midnight(date(day.year + 1, 1, 1))
    return _midnight(add_months(day, program.rolling_months))


def tiers_review(*, now: datetime | None = None, brand: Brand | None = None, chunk: int = REVIEW_CHUNK) -> dict:
    """The nightly review of every active tier program (or ``brand``'s), set-based.

    Cutoff: 00:00 Bangkok of ``now``'s day. Due: ``qualified_until``, ``grace_until`` and
    ``override_until`` all passed (or empty). Each member-id chunk is one transaction of a
    few SQL statements (temp tables, ``UPDATE ... FROM``, ``INSERT ... SELECT``). Writes
    ``TierChange`` rows carrying ``run_key`` (the Bangkok date) and one ``JobRun``; emits
    ``tiers_reviewed`` per brand after commit (the LINE fan-out is not part of this job).
    A second run the same day finds nobody due and changes nothing. Returns counts.
    """
    now = now or timezone.now()
    cutoff = review_cutoff(now)
    run_key = bangkok_date(now).isoformat()
    job = JobRun.objects.create(job=JOB_NAME, run_key=run_key, started_at=timezone.now())
    programs = TierProgram.objects.filter(is_active=True, brand__is_active=True).order_by("brand_id")
    if brand is not None:
        programs = programs.filter(brand=brand)
    totals: dict[str, int] = {"entered": 0}
    for program in programs:
        tiers = brand_tiers(program.brand_id)
        if not tiers:
            continue
        entry = entry_tier(tiers)
        params = {"brand": program.brand_id, "cutoff": cutoff, "now": now, "run_key": run_key,
                  "months": program.rolling_months, "grace_days": program.grace_days,
                  "grace_end": cutoff + timedelta(days=program.grace_days),
                  "next_end": next_review_end(program, cutoff), "currency": program_currency_id(program),
                  "entry": entry.pk if entry else None, "entry_until": period_end(program, now)}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN(member_id), MAX(member_id) FROM {T.member_tier} WHERE brand_id = %s",  # noqa: S608
                           [program.brand_id])
            low, high = cursor.fetchone()
        changed = False
        if low is not None:
            for start in range(low, high + 1, chunk):
                with transaction.atomic(), connection.cursor() as cursor:
                    # A chunk is re-done identically by the next run if it is lost in a crash: no need to
                    # wait for its WAL flush; the aggregate and the temp tables fit in memory.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF; SET LOCAL work_mem TO '64MB'")
                    counts = _review_chunk(cursor, program, {**params, "low": start, "high": start + chunk})
                for kind, count in counts.items():
                    totals[kind] = totals.get(kind, 0) + count
                    changed = changed or kind != "idle"
        if entry is not None:
            with transaction.atomic(), connection.cursor() as cursor:
                totals["entered"] += _enter_new_members(cursor, params)
        if changed:
            events.emit(TIERS_REVIEWED, brand_id=program.brand_id, run_key=run_key)
    rows = sum(totals.values())
    JobRun.objects.filter(pk=job.pk).update(finished_at=timezone.now(), rows=rows, details=totals)
    return {"run_key": run_key, "rows": rows, **totals}


def review_changes_to_notify(*, brand_id: int, run_key: str, after_id: int = 0, limit: int = 500):
    """The run's changes members hear about (upgrade, downgrade, lapse), by id, after ``after_id``."""
    return (TierChange.objects.filter(brand_id=brand_id, run_key=run_key, kind__in=NOTIFY_KINDS, pk__gt=after_id)
            .select_related("member__brand", "from_tier", "to_tier").order_by("pk")[:limit])

