"""Top spender races: periods, standings from domain events, start (backfill) and close.

Concurrency contracts
- A standing changes only through ``_contribute``: in one transaction it takes a ``FOR SHARE``
  lock on the race row (so a close, which updates that row, waits for contributions in
  flight and every later one sees the race closed), inserts the ``RaceContribution`` of the
  event (``ON CONFLICT DO NOTHING``: a redelivered event counts once) and, only when that row
  is new, upserts the standing with ``value = value + excluded.value``. Concurrent purchases
  of one member serialise on the standing row; no increment is lost.
- ``race_activate`` locks the race ``FOR UPDATE`` while it backfills the period so far: an
  event committed before the backfill's snapshot is in it (its own contribution then finds
  the key taken), one committed after waits for the lock and counts itself.
- ``race_close`` is one conditional ``UPDATE ... SET status = 'closed' WHERE status =
  'active'``; the loser of two concurrent closes updates no row and returns ``None``. The
  winner freezes the ranking into ``RaceResult`` (set-based), locks the winners' point
  accounts in primary-key order, grants each prize once (ledger and coupon keys
  ``race:{race}:{rank}``) and records the LINE notices, all in that one transaction; the
  notices leave after commit.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from loyalty.errors import RewardOutOfStock
from loyalty.models import LedgerEntry, MemberTier, PointCurrency, Purchase, PurchaseRefund
from loyalty.services.coupons import coupon_issue
from loyalty.services.ledger import (
    BANGKOK,
    Channel,
    Kind,
    Source,
    account_get_or_create,
    accounts_lock,
    lot_expiry,
    points_post,
)
from loyalty.services.tiers import brand_tiers, entry_tier, program_for
from messaging.outbox import message_push

from . import flex
from .errors import RaceAlreadyEnded, RaceNotDraft
from .models import Race, RaceContribution, RacePrize, RaceResult, Standing

log = logging.getLogger(__name__)

RACE_TABLE = Race._meta.db_table
STANDING_TABLE = Standing._meta.db_table
CONTRIBUTION_TABLE = RaceContribution._meta.db_table
RESULT_TABLE = RaceResult._meta.db_table
PRIZE_TABLE = RacePrize._meta.db_table
PURCHASE_TABLE = Purchase._meta.db_table
ENTRY_TABLE = LedgerEntry._meta.db_table
MEMBER_TIER_TABLE = MemberTier._meta.db_table
ACCOUNT_TABLE = LedgerEntry._meta.get_field("account").related_model._meta.db_table

# Close a race this long after its end: a POS that syncs a few minutes late still counts.
CLOSE_GRACE = timedelta(minutes=10)
PRIZE_KEY = "race:{race}:{rank}"


# --- periods --------------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BANGKOK)


def race_period_bounds(*, period: str, starts_at: datetime, ends_at: datetime | None = None
                       ) -> tuple[datetime, datetime]:
    """``[start, end)`` of a race: the Bangkok week (Monday 00:00) or month holding ``starts_at``, or custom."""
    day = timezone.localtime(starts_at, BANGKOK).date()
    if period == Race.Period.WEEK:
        monday = day - timedelta(days=day.weekday())
        return _midnight(monday), _midnight(monday + timedelta(days=7))
    if period == Race.Period.MONTH:
        first = day.replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return _midnight(first), _midnight(following)
    if ends_at is None or ends_at <= starts_at:
        raise ValueError("a custom race needs an end after its start")
    return starts_at, ends_at


# --- audience ---------------------------------------------------------------------------------------


def _audience(race: Race) -> tuple[list[int], bool]:
    """The race's audience tier ids and whether members without a tier row are in it (entry tier)."""
    tier_ids = list(race.audience_tiers.values_list("pk", flat=True))
    if not tier_ids:
        return [], True
    entry = entry_tier(brand_tiers(race.brand_id)) if program_for(race.brand_id) else None
    return tier_ids, entry is not None and entry.pk in tier_ids


def member_in_audience(*, race: Race, member_id: int) -> bool:
    """Everyone when the race has no audience tiers, else members whose current tier is one of them."""
    tier_ids, entry_included = _audience(race)
    if not tier_ids:
        return True
    rows = list(MemberTier.objects.filter(member_id=member_id).values_list("tier_id", flat=True))
    return rows[0] in tier_ids if rows else entry_included


def _audience_sql(race: Race, member_column: str) -> tuple[str, list]:
    tier_ids, entry_included = _audience(race)
    if not tier_ids:
        return "", []
    clause = (f" AND (EXISTS (SELECT 1 FROM {MEMBER_TIER_TABLE} mt WHERE mt.member_id = {member_column}"  # noqa: S608
              f" AND mt.tier_id = ANY(%s))")
    if entry_included:
        clause += f" OR NOT EXISTS (SELECT 1 FROM {MEMBER_TIER_TABLE} mt WHERE mt.member_id = {member_column})"  # noqa: S608
    return clause + ")", [tier_ids]


# --- standings from events --------------------------------------------------------------------------


UPSERT_SQL = f"""
    INSERT INTO {STANDING_TABLE} AS s (race_id, member_id, value, reached_at, updated_at)
    VALUES (%(race)s, %(member)s, %(amount)s, %(at)s, %(now)s)
    ON CONFLICT (race_id, member_id) DO UPDATE SET
        value = s.value + EXCLUDED.value,
        reached_at = CASE WHEN EXCLUDED.value > 0 THEN GREATEST(s.reached_at, EXCLUDED.reached_at)
                          ELSE s.reached_at END,
        updated_at = EXCLUDED.updated_at"""  # noqa: S608 - table names from model _meta


def _contribute(*, race: Race, member_id: int, key: str, amount: Decimal, at: datetime,
                requires_key: str | None = None) -> bool:
    """Count ``amount`` for the member in ``race`` once per ``key``; True when it counted now.

    Holds ``FOR SHARE`` on the race (a close waits; a closed race counts nothing). A
    decrease (``requires_key``: the purchase or earn it takes back) counts only when that
    source counted in this race. ``reached_at`` moves only on an increase.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {RACE_TABLE} WHERE id = %s FOR SHARE", [race.pk])  # noqa: S608
        row = cursor.fetchone()
        if row is None or row[0] != Race.Status.ACTIVE:
            return False
        if requires_key is not None:
            if not RaceContribution.objects.filter(race=race, key=requires_key).exists():
                return False
        elif not member_in_audience(race=race, member_id=member_id):
            return False
        now = timezone.now()
        cursor.execute(
            f"INSERT INTO {CONTRIBUTION_TABLE} (race_id, member_id, key, amount, at, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (race_id, key) DO NOTHING RETURNING id",
            [race.pk, member_id, key, amount, at, now])
        if cursor.fetchone() is None:
            return False
        cursor.execute(UPSERT_SQL, {"race": race.pk, "member": member_id, "amount": amount, "at": at, "now": now})
    return True


def _active_races(*, brand_id: int, metric: str, at: datetime | None = None):
    races = Race.objects.filter(brand_id=brand_id, metric=metric, status=Race.Status.ACTIVE)
    if at is not None:
        races = races.filter(starts_at__lte=at, ends_at__gt=at)
    return list(races)


def purchase_count(*, purchase_id: int) -> int:
    """Add a recorded purchase's total to every active spend race of its brand whose period holds it."""
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None or purchase.total <= 0:
        return 0
    return sum(_contribute(race=race, member_id=purchase.member_id, key=f"purchase:{purchase.pk}",
                           amount=purchase.total, at=purchase.purchased_at)
               for race in _active_races(brand_id=purchase.brand_id, metric=Race.Metric.SPEND,
                                         at=purchase.purchased_at))


def refund_count(*, refund_id: int) -> int:
    """Subtract a refund from the races its purchase counted in (``reached_at`` stays)."""
    refund = PurchaseRefund.objects.select_related("purchase").filter(pk=refund_id).first()
    if refund is None:
        return 0
    purchase = refund.purchase
    return sum(_contribute(race=race, member_id=purchase.member_id, key=f"refund:{refund.pk}",
                           amount=-refund.amount, at=refund.created_at, requires_key=f"purchase:{purchase.pk}")
               for race in _active_races(brand_id=purchase.brand_id, metric=Race.Metric.SPEND))


def points_entry_count(*, entry_id: int) -> int:
    """An EARN entry adds to the points races of its currency; a REVERSE takes back an earn that counted.

    Prize points of races (keys ``race:…``) never count, so a race cannot feed another.
    """
    entry = (LedgerEntry.objects.select_related("account").filter(pk=entry_id, kind__in=[Kind.EARN, Kind.REVERSE])
             .first())
    if entry is None or entry.idempotency_key.startswith("race:"):
        return 0
    account = entry.account
    default_currency_id = (PointCurrency.objects.filter(brand_id=account.brand_id, is_default=True)
                           .values_list("pk", flat=True).first())
    counted = 0
    for race in _active_races(brand_id=account.brand_id, metric=Race.Metric.POINTS):
        if (race.currency_id or default_currency_id) != account.currency_id:
            continue
        if entry.kind == Kind.EARN:
            if not race.starts_at <= entry.created_at < race.ends_at:
                continue
            counted += _contribute(race=race, member_id=account.member_id, key=f"entry:{entry.pk}",
                                   amount=Decimal(entry.amount), at=entry.created_at)
        elif entry.reverses_id:
            counted += _contribute(race=race, member_id=account.member_id, key=f"entry:{entry.pk}",
                                   amount=Decimal(entry.amount), at=entry.created_at,
                                   requires_key=f"entry:{entry.reverses_id}")
    return counted


# --- start: backfill the period so far ------------------------------------------------------------------


def _backfill_contributions_sql(race: Race) -> tuple[str, list]:
    """Contributions of the period so far: purchases net of refunds, or earns and the reversals of those earns."""
    audience, audience_params = _audience_sql(race, "source.member_id")
    if race.metric == Race.Metric.SPEND:
        source = (f"SELECT p.id AS id, p.member_id AS member_id, p.total - p.refunded_total AS amount, "  # noqa: S608
                  f"p.purchased_at AS at FROM {PURCHASE_TABLE} p WHERE p.brand_id = %s "
                  "AND p.purchased_at >= %s AND p.purchased_at < %s")
        params = [race.brand_id, race.starts_at, race.ends_at]
        prefix = "purchase:"
    else:
        currency_id = race.currency_id or PointCurrency.objects.get(brand_id=race.brand_id, is_default=True).pk
        source = (f"SELECT e.id AS id, a.member_id AS member_id, e.amount::numeric AS amount, e.created_at AS at "  # noqa: S608
                  f"FROM {ENTRY_TABLE} e JOIN {ACCOUNT_TABLE} a ON a.id = e.account_id "
                  "WHERE a.currency_id = %s AND a.brand_id = %s AND e.idempotency_key NOT LIKE 'race:%%' "
                  "AND ((e.kind = 'earn' AND e.created_at >= %s AND e.created_at < %s) "
                  f"OR (e.kind = 'reverse' AND EXISTS (SELECT 1 FROM {ENTRY_TABLE} r WHERE r.id = e.reverses_id "
                  "AND r.kind = 'earn' AND r.created_at >= %s AND r.created_at < %s "
                  "AND r.idempotency_key NOT LIKE 'race:%%')))")
        params = [currency_id, race.brand_id, race.starts_at, race.ends_at, race.starts_at, race.ends_at]
        prefix = "entry:"
    sql = (f"INSERT INTO {CONTRIBUTION_TABLE} (race_id, member_id, key, amount, at, created_at) "  # noqa: S608
           f"SELECT %s, source.member_id, %s || source.id, source.amount, source.at, %s FROM ({source}) source "
           f"WHERE TRUE{audience} ON CONFLICT (race_id, key) DO NOTHING")
    return sql, [race.pk, prefix, timezone.now(), *params, *audience_params]


STANDINGS_FROM_CONTRIBUTIONS_SQL = f"""
    INSERT INTO {STANDING_TABLE} (race_id, member_id, value, reached_at, updated_at)
    SELECT race_id, member_id, SUM(amount), MAX(at) FILTER (WHERE amount > 0), %(now)s
    FROM {CONTRIBUTION_TABLE} WHERE race_id = %(race)s GROUP BY race_id, member_id
    HAVING MAX(at) FILTER (WHERE amount > 0) IS NOT NULL
    ON CONFLICT (race_id, member_id) DO NOTHING"""  # noqa: S608 - table names from model _meta


def race_activate(*, race_id: int, now: datetime | None = None) -> Race:
    """Start a draft race: ``active``, with standings for everything already in its period.

    Locks the race row ``FOR UPDATE`` for the set-based backfill (contributions per purchase
    or earn, then one standing per member), so an event arriving meanwhile waits and then
    counts once. Raises ``RaceNotDraft`` or ``RaceAlreadyEnded``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        race = Race.objects.select_for_update().get(pk=race_id)
        if race.status != Race.Status.DRAFT:
            raise RaceNotDraft()
        if race.ends_at <= now:
            raise RaceAlreadyEnded()
        Race.objects.filter(pk=race.pk).update(status=Race.Status.ACTIVE, activated_at=now, updated_at=now)
        with connection.cursor() as cursor:
            cursor.execute(*_backfill_contributions_sql(race))
            cursor.execute(STANDINGS_FROM_CONTRIBUTIONS_SQL, {"race": race.pk, "now": now})
    race.refresh_from_db()
    return race


# --- close ---------------------------------------------------------------------------------------------------


FREEZE_SQL = f"""
    WITH ranked AS (
        SELECT member_id, value, reached_at,
               row_number() OVER (ORDER BY value DESC, reached_at ASC, member_id ASC) AS rank
        FROM {STANDING_TABLE} WHERE race_id = %(race)s AND value > 0
    )
    INSERT INTO {RESULT_TABLE} (race_id, rank, member_id, value, reached_at, prize_points, prize_reward_id,
                                prize_note, created_at)
    SELECT %(race)s, ranked.rank, ranked.member_id, ranked.value, ranked.reached_at,
           COALESCE(prize.points, 0), prize.reward_id, '', %(now)s
    FROM ranked LEFT JOIN LATERAL (
        SELECT points, reward_id FROM {PRIZE_TABLE}
        WHERE race_id = %(race)s AND ranked.rank BETWEEN rank_from AND rank_to AND ranked.rank <= %(top_n)s
        ORDER BY rank_from, id LIMIT 1
    ) prize ON TRUE"""  # noqa: S608 - table names from model _meta


@dataclass(frozen=True)
class CloseResult:
    race: Race
    ranked: int
    winners: list[RaceResult]


def race_close(*, race_id: int, now: datetime | None = None, grace: timedelta = CLOSE_GRACE) -> CloseResult | None:
    """Close an active race whose period ended (``grace`` ago): freeze the ranking, grant prizes once.

    Returns ``None`` when the race is not active or not due (also for the loser of two
    concurrent closes: the conditional UPDATE decides). The final ranking (value > 0,
    ``value DESC, reached_at ASC, member ASC``) is frozen into ``RaceResult`` rows in one
    ``INSERT ... SELECT``. Each top-N rank with a prize gets its points (an EARN entry in the
    brand's default currency, key ``race:{race}:{rank}``) and/or its coupon (``coupon_issue``,
    same key); a coupon out of stock is noted on the result, not fatal. Every top-N member
    is told on LINE (recorded now, sent after commit, deduplicated by the same key).
    """
    now = now or timezone.now()
    with transaction.atomic():
        closed = Race.objects.filter(pk=race_id, status=Race.Status.ACTIVE, ends_at__lte=now - grace).update(
            status=Race.Status.CLOSED, closed_at=now, updated_at=now)
        if not closed:
            return None
        race = Race.objects.select_related("brand").get(pk=race_id)
        with connection.cursor() as cursor:
            cursor.execute(FREEZE_SQL, {"race": race.pk, "now": now, "top_n": race.top_n})
            ranked = cursor.rowcount
        winners = list(RaceResult.objects.filter(race=race, rank__lte=race.top_n)
                       .select_related("member__brand", "prize_reward").order_by("rank"))
        _grant_prizes(race, winners, now)
        for result in winners:
            _notify_winner(race, result)
    return CloseResult(race=race, ranked=ranked, winners=winners)


def _grant_prizes(race: Race, winners: list[RaceResult], now: datetime) -> None:
    with_points = [result for result in winners if result.prize_points]
    if with_points:
        currency = PointCurrency.objects.get(brand_id=race.brand_id, is_default=True)
        accounts = {result.member_id: account_get_or_create(member=result.member, currency=currency)
                    for result in with_points}
        locked = accounts_lock(account.pk for account in accounts.values())  # primary-key order: no deadlock
        for result in with_points:
            key = PRIZE_KEY.format(race=race.pk, rank=result.rank)
            result.entry = points_post(
                account=locked[accounts[result.member_id].pk], amount=result.prize_points, kind=Kind.EARN,
                idempotency_key=key, expires_at=lot_expiry(currency=currency, earned_at=now),
                source=Source(channel=Channel.CAMPAIGN, reference=f"race:{race.pk}",
                              reason=f"Top spender race {race.pk}: rank {result.rank}",
                              details={"race": race.pk, "rank": result.rank}))
    for result in winners:
        if result.prize_reward_id is None:
            continue
        try:
            result.coupon = coupon_issue(member=result.member, reward=result.prize_reward,
                                         key=PRIZE_KEY.format(race=race.pk, rank=result.rank), now=now).coupon
        except RewardOutOfStock:
            result.prize_note = "reward out of stock"
            log.warning("race %s rank %s: reward %s out of stock", race.pk, result.rank, result.prize_reward_id)
    for result in winners:
        if result.entry is not None or result.coupon is not None or result.prize_note:
            RaceResult.objects.filter(pk=result.pk).update(entry=result.entry, coupon=result.coupon,
                                                           prize_note=result.prize_note)


def _notify_winner(race: Race, result: RaceResult) -> None:
    member = result.member
    if not member.line_user_id:
        return
    template, messages = flex.race_result(member, race=race, result=result)
    message_push(member=member, template=template, messages=messages,
                 dedupe_key=PRIZE_KEY.format(race=race.pk, rank=result.rank))


def races_due(*, now: datetime | None = None, grace: timedelta = CLOSE_GRACE) -> list[int]:
    now = now or timezone.now()
    return list(Race.objects.filter(status=Race.Status.ACTIVE, ends_at__lte=now - grace)
                .order_by("ends_at", "pk").values_list("pk", flat=True))

