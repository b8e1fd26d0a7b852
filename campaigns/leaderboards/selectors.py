"""Reads of the top spender races: the leaderboard, a member's own rank, the staff summary.

The ranking order everywhere is ``value DESC, reached_at ASC, member_id ASC`` (ties: who
reached the amount first), the order of the ``standing_rank`` index. ``member_position``
is one SQL statement whose subqueries are all range scans of that index: the rank is the
count of the index entries ahead of the member's (index-only), the gap is read from the
entry just ahead and from the N-th entry.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from loyalty.models import Purchase
from members.display import mask_name
from members.models import Member

from .models import Race, RaceResult, Standing
from .services import member_in_audience

STANDING_TABLE = Standing._meta.db_table
MEMBER_TABLE = Member._meta.db_table
RECENTLY_CLOSED = timedelta(days=14)

# The member ``s``'s rank is 1 + the rows with a greater value + the rows with the same value reached
# earlier (then a lower member id). Both counts are pure ranges of ``standing_rank`` (no row filter):
# ``value > v``, and ``value = v AND (reached_at, member_id) < (r, m)`` (a row comparison on the
# index's trailing columns). The value just ahead is the member's own when a tie is ahead, else the
# smallest greater value (one index probe).
POSITION_SQL = f"""
    SELECT s.value, s.reached_at, above.n + ties.n + 1 AS rank,
           CASE WHEN ties.n > 0 THEN s.value
                ELSE (SELECT MIN(o.value) FROM {STANDING_TABLE} o WHERE o.race_id = s.race_id AND o.value > s.value)
           END AS ahead_value,
           (SELECT o.value FROM {STANDING_TABLE} o WHERE o.race_id = s.race_id AND o.value > 0
            ORDER BY o.value DESC, o.reached_at ASC, o.member_id ASC OFFSET %(offset)s LIMIT 1) AS nth_value
    FROM {STANDING_TABLE} s
    CROSS JOIN LATERAL (SELECT COUNT(*) AS n FROM {STANDING_TABLE} o
                        WHERE o.race_id = s.race_id AND o.value > s.value) above
    CROSS JOIN LATERAL (SELECT COUNT(*) AS n FROM {STANDING_TABLE} o
                        WHERE o.race_id = s.race_id AND o.value = s.value
                          AND (o.reached_at, o.member_id) < (s.reached_at, s.member_id)) ties
    WHERE s.race_id = %(race)s AND s.member_id = %(member)s AND s.value > 0"""  # noqa: S608

TOP_SQL = f"""
    SELECT s.member_id, s.value, s.reached_at, m.first_name, m.display_name
    FROM {STANDING_TABLE} s JOIN {MEMBER_TABLE} m ON m.id = s.member_id
    WHERE s.race_id = %(race)s AND s.value > 0
    ORDER BY s.value DESC, s.reached_at ASC, s.member_id ASC LIMIT %(limit)s"""  # noqa: S608


@dataclass(frozen=True)
class Row:
    rank: int
    member_id: int
    name: str
    value: Decimal
    is_you: bool = False


@dataclass(frozen=True)
class Position:
    rank: int
    value: Decimal
    reached_at: datetime
    ahead_value: Decimal | None  # the value of rank - 1 (None: the member leads)
    nth_value: Decimal | None  # the value of rank N (None: fewer than N ranked)
    top_n: int

    @property
    def in_top(self) -> bool:
        return self.rank <= self.top_n

    @property
    def target_rank(self) -> int | None:
        """The rank the member is compared with: the next one up inside the top N, else #N."""
        if self.rank == 1:
            return None
        return self.rank - 1 if self.in_top else self.top_n

    @property
    def gap(self) -> Decimal | None:
        if self.rank == 1:
            return None
        target = self.ahead_value if self.in_top else self.nth_value
        return None if target is None else target - self.value


def member_position(*, race: Race, member: Member) -> Position | None:
    """The member's live rank in one query (None: not ranked, i.e. nothing counted yet)."""
    if race.status == Race.Status.CLOSED:
        return _closed_position(race, member)
    with connection.cursor() as cursor:
        cursor.execute(POSITION_SQL, {"race": race.pk, "member": member.pk, "offset": race.top_n - 1})
        row = cursor.fetchone()
    if row is None:
        return None
    value, reached_at, rank, ahead_value, nth_value = row
    return Position(rank=rank, value=value, reached_at=reached_at, ahead_value=ahead_value, nth_value=nth_value,
                    top_n=race.top_n)


def _closed_position(race: Race, member: Member) -> Position | None:
    result = RaceResult.objects.filter(race=race, member=member).first()
    if result is None:
        return None
    values = dict(RaceResult.objects.filter(race=race, rank__in=[result.rank - 1, race.top_n])
                  .values_list("rank", "value"))
    return Position(rank=result.rank, value=result.value, reached_at=result.reached_at,
                    ahead_value=values.get(result.rank - 1), nth_value=values.get(race.top_n), top_n=race.top_n)


def leaderboard_top(*, race: Race, member: Member | None = None, limit: int | None = None) -> list[Row]:
    """The top ``limit`` (default N) with masked names, live or frozen at the close."""
    limit = limit or race.top_n
    you = member.pk if member else None
    if race.status == Race.Status.CLOSED:
        results = (RaceResult.objects.filter(race=race, rank__lte=limit).select_related("member")
                   .order_by("rank"))
        return [Row(rank=r.rank, member_id=r.member_id, name=mask_name(r.member.first_name, r.member.display_name),
                    value=r.value, is_you=r.member_id == you) for r in results]
    with connection.cursor() as cursor:
        cursor.execute(TOP_SQL, {"race": race.pk, "limit": limit})
        rows = cursor.fetchall()
    return [Row(rank=index, member_id=member_id, name=mask_name(first_name, display_name), value=value,
                is_you=member_id == you)
            for index, (member_id, value, _reached_at, first_name, display_name) in enumerate(rows, start=1)]


def races_for_member(*, member: Member, now: datetime | None = None) -> list[Race]:
    """Active races of the member's brand and those closed in the last 14 days, that the member may join."""
    now = now or timezone.now()
    races = Race.objects.filter(brand_id=member.brand_id).filter(
        Q(status=Race.Status.ACTIVE) | Q(status=Race.Status.CLOSED, closed_at__gte=now - RECENTLY_CLOSED),
    ).order_by("status", "ends_at", "pk")
    return [race for race in races if member_in_audience(race=race, member_id=member.pk)]


def race_for_member(*, member: Member, race_id: int) -> Race | None:
    race = Race.objects.filter(brand_id=member.brand_id, pk=race_id).exclude(status=Race.Status.DRAFT).first()
    if race is None or not member_in_audience(race=race, member_id=member.pk):
        return None
    return race


@dataclass(frozen=True)
class RaceSummary:
    participants: int
    participant_buyers_spend: Decimal
    other_buyers: int
    other_buyers_spend: Decimal
    prize_points: int
    coupons: int
    prizes_missing: int


def race_summary(*, race: Race) -> RaceSummary:
    """Staff results: participants (value > 0), spend of participants vs other buyers in the period, prizes given.

    Spend is the brand's purchases in the period, net of refunds, whoever made them.
    """
    participant_ids = Standing.objects.filter(race=race, value__gt=0).values("member_id")
    purchases = Purchase.objects.filter(brand_id=race.brand_id, purchased_at__gte=race.starts_at,
                                        purchased_at__lt=race.ends_at)
    inside = purchases.filter(member_id__in=participant_ids).aggregate(spend=Sum("total") - Sum("refunded_total"))
    outside = purchases.exclude(member_id__in=participant_ids).aggregate(
        spend=Sum("total") - Sum("refunded_total"), buyers=Count("member_id", distinct=True))
    prizes = RaceResult.objects.filter(race=race).aggregate(
        points=Sum("prize_points", filter=Q(entry__isnull=False)), coupons=Count("coupon"),
        missing=Count("pk", filter=~Q(prize_note="")))
    return RaceSummary(
        participants=Standing.objects.filter(race=race, value__gt=0).count(),
        participant_buyers_spend=inside["spend"] or Decimal("0"), other_buyers=outside["buyers"] or 0,
        other_buyers_spend=outside["spend"] or Decimal("0"), prize_points=prizes["points"] or 0,
        coupons=prizes["coupons"] or 0, prizes_missing=prizes["missing"] or 0)

