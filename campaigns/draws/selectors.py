"""Reads for the lucky-draw pages, admin and exports (brand scoping applied here)."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.utils import timezone

from loyalty.services.tiers import member_tier
from members.display import mask_name
from members.models import Member

from .models import DrawEntry, DrawWinner, LuckyDraw, Prize
from .services import canonical_entry_list

Status = LuckyDraw.Status
RESULTS_SHOWN_FOR = timedelta(days=30)


def _audience(queryset, member: Member):
    tier = member_tier(member)
    allowed = Q(audience_tiers__isnull=True)
    if tier is not None:
        allowed |= Q(audience_tiers=tier)
    return queryset.filter(allowed).distinct()


def draws_for_member(*, member: Member, now: datetime | None = None):
    """The member's brand's draws to show: open or closed ones of their audience, and results of the last 30 days.

    Each carries ``my_tickets`` (the member's ticket count).
    """
    now = now or timezone.now()
    visible = Q(status__in=[Status.OPEN, Status.CLOSED]) | Q(status=Status.DRAWN, drawn_at__gte=now - RESULTS_SHOWN_FOR)
    mine = DrawEntry.objects.filter(draw=OuterRef("pk"), member=member).values("tickets")[:1]
    queryset = LuckyDraw.objects.filter(visible, brand_id=member.brand_id).exclude(
        status=Status.OPEN, entries_open_at__gt=now)
    rank = Case(When(status=Status.OPEN, then=Value(0)), When(status=Status.CLOSED, then=Value(1)), default=Value(2),
                output_field=IntegerField())
    return (_audience(queryset, member).annotate(my_tickets=Subquery(mine), rank=rank)
            .order_by("rank", "draw_at", "pk"))


def draw_for_member(*, member: Member, draw_id: int) -> LuckyDraw | None:
    """A draw of the member's brand that members may see (not a draft)."""
    return (LuckyDraw.objects.select_related("currency", "brand").exclude(status=Status.DRAFT)
            .filter(brand_id=member.brand_id, pk=draw_id).first())


def entry_of(*, draw: LuckyDraw, member: Member) -> DrawEntry | None:
    return DrawEntry.objects.filter(draw=draw, member=member).first()


@dataclass(frozen=True)
class PublicWinner:
    slot: int
    prize: Prize
    prize_name: str
    masked_name: str
    is_you: bool


def winners_public(*, draw: LuckyDraw, member: Member | None = None) -> list[PublicWinner]:
    winners = DrawWinner.objects.filter(draw=draw).select_related("prize", "member").order_by("slot")
    language = member.language if member is not None else "th"
    return [PublicWinner(slot=winner.slot, prize=winner.prize, prize_name=winner.prize.display_name(language),
                         masked_name=mask_name(winner.member.first_name, winner.member.display_name),
                         is_you=member is not None and winner.member_id == member.pk) for winner in winners]


@dataclass(frozen=True)
class DrawResults:
    participants: int
    tickets: int
    tickets_bought: int
    tickets_granted: int
    points_spent: int
    prize_slots: int
    winners: int
    prizes_delivered: int
    prizes_pending: int


def draw_results(*, draw: LuckyDraw) -> DrawResults:
    entries = DrawEntry.objects.filter(draw=draw, tickets__gt=0).aggregate(
        participants=Count("pk"), tickets=Sum("tickets"), bought=Sum("tickets_bought"), spent=Sum("points_spent"))
    winners = DrawWinner.objects.filter(draw=draw).aggregate(
        total=Count("pk"), delivered=Count("pk", filter=Q(awarded_at__isnull=False)))
    tickets, bought = entries["tickets"] or 0, entries["bought"] or 0
    return DrawResults(
        participants=entries["participants"], tickets=tickets, tickets_bought=bought, tickets_granted=tickets - bought,
        points_spent=entries["spent"] or 0,
        prize_slots=Prize.objects.filter(draw=draw).aggregate(n=Sum("quantity"))["n"] or 0,
        winners=winners["total"], prizes_delivered=winners["delivered"],
        prizes_pending=winners["total"] - winners["delivered"],
    )


ENTRY_COLUMNS = ["member_id", "tickets", "member_code", "tickets_bought", "points_spent"]
RESULT_COLUMNS = ["slot", "member_id", "member_code", "winner", "tickets", "prize", "prize_kind", "coupon_code",
                  "points", "delivered_at", "problem"]


def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def entries_csv(*, draw: LuckyDraw) -> str:
    """The canonical entry list (by member id) as CSV; ``member_id`` and ``tickets`` feed the verifier."""
    codes = dict(Member.objects.filter(draw_entries__draw=draw).values_list("pk", "code"))
    extra = {row["member_id"]: row for row in
             DrawEntry.objects.filter(draw=draw).values("member_id", "tickets_bought", "points_spent")}
    return _csv(ENTRY_COLUMNS, ([member_id, tickets, codes[member_id], extra[member_id]["tickets_bought"],
                                 extra[member_id]["points_spent"]] for member_id, tickets in canonical_entry_list(draw)))


def _prize_kind(prize: Prize) -> str:
    return "coupon" if prize.reward_id else "points" if prize.points else "item"


def results_csv(*, draw: LuckyDraw) -> str:
    winners = DrawWinner.objects.filter(draw=draw).select_related("prize", "member", "coupon").order_by("slot")
    return _csv(RESULT_COLUMNS, (
        [winner.slot, winner.member_id, winner.member.code,
         mask_name(winner.member.first_name, winner.member.display_name), winner.tickets,
         winner.prize.name, _prize_kind(winner.prize), winner.coupon.code if winner.coupon else "",
         winner.prize.points or "",
         timezone.localtime(winner.awarded_at).isoformat() if winner.awarded_at else "", winner.award_error]
        for winner in winners))
