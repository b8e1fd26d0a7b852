"""Lucky draws: opening (seed commitment), tickets, the draw itself, prizes and messages.

Concurrency contract (``docs/campaigns-draws.md``):

- Lock order: the draw row (``FOR SHARE`` by ticket writes, a row lock by open/draw/cancel),
  then the member's ``DrawEntry`` row, then the point account (``points_post``).
- Ticket writes hold ``FOR SHARE`` on the draw while they check it is open, so drawing or
  cancelling (which update the row) waits for purchases in flight, and purchases that
  come later see the new status. Per-member limits are checked under the entry's row
  lock and counts move with ``F()``: two concurrent purchases cannot pass the limit.
- Status moves are conditional ``UPDATE ... WHERE status IN (...)``: a draw is drawn once
  however many task runs race for it.
- Prizes and LINE messages go after the winners are committed, one winner per
  transaction, keyed ``draw:{draw}:{slot}``, so a retry never pays twice.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError, ValidationFailed
from loyalty.errors import IdempotencyConflict
from loyalty.services.coupons import coupon_issue
from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, lot_expiry, points_post
from loyalty.services.tiers import member_tier
from members.errors import MemberInactive
from members.models import Member
from messaging.models import OutboundMessage
from messaging.outbox import message_multicast, message_push

from . import messages
from .algorithm import draw_winners, seed_hash
from .errors import (
    DrawNotForMember,
    DrawNotOpen,
    DrawStateConflict,
    InvalidTicketCount,
    TicketLimitReached,
    TicketsNotForSale,
)
from .models import DrawEntry, DrawWinner, LuckyDraw, Prize, TicketBatch

Status = LuckyDraw.Status
TRANSACTIONAL = OutboundMessage.Purpose.TRANSACTIONAL
MAX_TICKETS_PER_PURCHASE = 1000


def _draw(draw) -> LuckyDraw:
    return draw if isinstance(draw, LuckyDraw) else LuckyDraw.objects.get(pk=draw)


# --- opening and cancelling ----------------------------------------------------------------


@transaction.atomic
def draw_open(*, draw: LuckyDraw, now: datetime | None = None) -> LuckyDraw:
    """Open a draft draw for entries and commit to its seed.

    Draws 32 random bytes (``secrets``), stores them encrypted and publishes their
    SHA-256. Only a draft whose entries have not closed yet, with at least one prize, can
    open (``DrawStateConflict``/``ValidationFailed`` otherwise); conditional UPDATE.
    """
    now = now or timezone.now()
    if not Prize.objects.filter(draw_id=draw.pk).exists():
        raise ValidationFailed(_("Add at least one prize before opening the lucky draw."))
    seed = secrets.token_bytes(32)
    opened = LuckyDraw.objects.filter(pk=draw.pk, status=Status.DRAFT, entries_close_at__gt=now).update(
        status=Status.OPEN, seed=seed.hex(), seed_hash=seed_hash(seed), opened_at=now, updated_at=now)
    if opened != 1:
        current = LuckyDraw.objects.get(pk=draw.pk)
        if current.status != Status.DRAFT:
            raise DrawStateConflict(_("Only a draft lucky draw can be opened."))
        raise DrawStateConflict(_("Entries of this lucky draw have already closed; change the dates first."))
    draw.refresh_from_db()
    return draw


@transaction.atomic
def draw_cancel(*, draw: LuckyDraw, staff_user=None, now: datetime | None = None) -> LuckyDraw:
    """Cancel a draw that has not been drawn and give back every point spent on its tickets.

    Conditional UPDATE (waits for ticket purchases in flight); then one ``reverse`` credit
    per purchase, keyed ``draw:{draw}:refund:{batch}``. Raises ``DrawStateConflict`` for a
    drawn or already cancelled draw.
    """
    now = now or timezone.now()
    cancelled = LuckyDraw.objects.filter(
        pk=draw.pk, status__in=[Status.DRAFT, Status.OPEN, Status.CLOSED]).update(
        status=Status.CANCELLED, cancelled_at=now, updated_at=now)
    if cancelled != 1:
        raise DrawStateConflict(_("A drawn or cancelled lucky draw cannot be cancelled."))
    draw.refresh_from_db()
    bought = (TicketBatch.objects.filter(draw=draw, kind=TicketBatch.Kind.BOUGHT, points__gt=0)
              .select_related("entry__member", "ledger_entry__account").order_by("ledger_entry__account_id", "id"))
    for batch in bought:
        points_post(
            account=batch.ledger_entry.account, amount=batch.points, kind=Kind.REVERSE,
            idempotency_key=f"draw:{draw.pk}:refund:{batch.pk}",
            source=Source(channel=Channel.CAMPAIGN, reverses=batch.ledger_entry, staff_user=staff_user,
                          reason="Lucky draw cancelled", reference=draw.name, details={"draw": draw.pk}),
            expires_at=lot_expiry(currency=draw.currency, earned_at=now),
        )
    return draw


def draws_close_due(*, now: datetime | None = None) -> int:
    """Mark open draws whose entries have closed as closed (one set-based UPDATE)."""
    now = now or timezone.now()
    return LuckyDraw.objects.filter(status=Status.OPEN, entries_close_at__lte=now).update(
        status=Status.CLOSED, updated_at=now)


# --- tickets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketResult:
    batch: TicketBatch
    created: bool


def member_may_enter(*, draw: LuckyDraw, member: Member) -> bool:
    """The draw's audience (tiers) includes the member; a draw without tiers is for everyone."""
    tier_ids = set(draw.audience_tiers.values_list("pk", flat=True))
    if not tier_ids:
        return True
    tier = member_tier(member)
    return tier is not None and tier.pk in tier_ids


def _lock_open(draw: LuckyDraw, now: datetime) -> None:
    """``FOR SHARE`` on the draw row, then check it takes entries (``DrawNotOpen``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, entries_open_at, entries_close_at FROM {LuckyDraw._meta.db_table} "  # noqa: S608
                       "WHERE id = %s FOR SHARE", [draw.pk])
        status, opens, closes = cursor.fetchone()
    if status != Status.OPEN or not opens <= now < closes:
        raise DrawNotOpen()


def _entry_locked(draw: LuckyDraw, member: Member) -> DrawEntry:
    """The member's entry row, created if needed, under ``SELECT ... FOR UPDATE``."""
    entry = DrawEntry.objects.select_for_update().filter(draw=draw, member=member).first()
    if entry is not None:
        return entry
    try:
        with transaction.atomic():
            DrawEntry.objects.create(draw=draw, member=member)
    except IntegrityError:
        pass  # a concurrent first ticket created it: lock that one
    return DrawEntry.objects.select_for_update().get(draw=draw, member=member)


def _replay(batch: TicketBatch, *, member: Member, tickets: int) -> TicketResult:
    if batch.entry.member_id != member.pk or batch.tickets != tickets:
        raise IdempotencyConflict(fields={"request_id": ["This request ID was already used for other tickets."]})
    return TicketResult(batch, created=False)


def _existing(draw: LuckyDraw, key: str) -> TicketBatch | None:
    return TicketBatch.objects.select_related("entry").filter(draw=draw, key=key).first()


def _check_entrant(draw: LuckyDraw, member: Member, tickets: int) -> None:
    if not isinstance(tickets, int) or isinstance(tickets, bool) or not 1 <= tickets <= MAX_TICKETS_PER_PURCHASE:
        raise InvalidTicketCount(fields={"tickets": [str(InvalidTicketCount.message)]})
    if draw.brand_id != member.brand_id:
        raise DrawNotOpen()
    if member.status != Member.Status.ACTIVE:
        raise MemberInactive()
    if not member_may_enter(draw=draw, member=member):
        raise DrawNotForMember()


def draw_tickets_buy(*, draw: LuckyDraw, member: Member, tickets: int, request_id: str,
                     now: datetime | None = None) -> TicketResult:
    """Buy ``tickets`` with points: one ledger debit (kind redeem, channel campaign), once per ``request_id``.

    Locks the draw (share), the member's entry and the account, in that order. Raises
    ``InvalidTicketCount``, ``TicketsNotForSale``, ``DrawNotOpen``, ``DrawNotForMember``,
    ``MemberInactive``, ``TicketLimitReached``, ``InsufficientPoints`` or
    ``IdempotencyConflict``; on any error nothing is written. A replayed ``request_id``
    returns the first purchase.
    """
    draw = _draw(draw)
    now = now or timezone.now()
    key = f"buy:{member.pk}:{request_id}"
    existing = _existing(draw, key)
    if existing is not None:
        return _replay(existing, member=member, tickets=tickets)
    if draw.ticket_cost == 0:
        raise TicketsNotForSale()
    _check_entrant(draw, member, tickets)
    cost = draw.ticket_cost * tickets
    try:
        with transaction.atomic():
            _lock_open(draw, now)
            account = account_get_or_create(member=member, currency=draw.currency)
            entry = _entry_locked(draw, member)
            existing = _existing(draw, key)
            if existing is not None:
                return _replay(existing, member=member, tickets=tickets)
            limit = draw.max_tickets_per_member
            if limit is not None and entry.tickets_bought + tickets > limit:
                raise TicketLimitReached(limit=limit, bought=entry.tickets_bought)
            ledger_entry = points_post(
                account=account, amount=-cost, kind=Kind.REDEEM,
                idempotency_key=f"draw:{draw.pk}:{key}",
                source=Source(channel=Channel.CAMPAIGN, reference=draw.name,
                              details={"draw": draw.pk, "tickets": tickets}),
            )
            batch = TicketBatch.objects.create(draw=draw, entry=entry, kind=TicketBatch.Kind.BOUGHT, tickets=tickets,
                                               points=cost, key=key, ledger_entry=ledger_entry)
            DrawEntry.objects.filter(pk=entry.pk).update(
                tickets=F("tickets") + tickets, tickets_bought=F("tickets_bought") + tickets,
                points_spent=F("points_spent") + cost, updated_at=now)
    except IntegrityError:
        existing = _existing(draw, key)
        if existing is None:
            raise
        return _replay(existing, member=member, tickets=tickets)
    return TicketResult(batch, created=True)


def draw_tickets_grant(*, draw: LuckyDraw, member: Member, tickets: int, key: str,
                       now: datetime | None = None) -> TicketResult:
    """Give ``member`` free tickets (a mission, an activity), once per ``key`` (e.g. ``mission:3:41:1``).

    Granted tickets do not count against ``max_tickets_per_member`` (which limits buying).
    Same locks and errors as ``draw_tickets_buy`` except the points ones: ``DrawNotOpen``
    once entries have closed, ``DrawNotForMember`` outside the audience.
    """
    draw = _draw(draw)
    now = now or timezone.now()
    stored_key = f"grant:{key}"
    existing = _existing(draw, stored_key)
    if existing is not None:
        return _replay(existing, member=member, tickets=tickets)
    _check_entrant(draw, member, tickets)
    try:
        with transaction.atomic():
            _lock_open(draw, now)
            entry = _entry_locked(draw, member)
            existing = _existing(draw, stored_key)
            if existing is not None:
                return _replay(existing, member=member, tickets=tickets)
            batch = TicketBatch.objects.create(draw=draw, entry=entry, kind=TicketBatch.Kind.GRANTED, tickets=tickets,
                                               key=stored_key)
            DrawEntry.objects.filter(pk=entry.pk).update(tickets=F("tickets") + tickets, updated_at=now)
    except IntegrityError:
        existing = _existing(draw, stored_key)
        if existing is None:
            raise
        return _replay(existing, member=member, tickets=tickets)
    return TicketResult(batch, created=True)


# --- the draw ------------------------------------------------------------------------------


def prize_slots(draw: LuckyDraw) -> list[Prize]:
    """Slot k (1-based) is ``prize_slots(draw)[k - 1]``: prizes by position, each ``quantity`` times."""
    slots: list[Prize] = []
    for prize in Prize.objects.filter(draw_id=draw.pk).select_related("reward").order_by("position", "id"):
        slots.extend([prize] * prize.quantity)
    return slots


def canonical_entry_list(draw: LuckyDraw) -> list[tuple[int, int]]:
    """``(member_id, tickets)`` by member id: the list the winners are drawn from (and exported)."""
    return list(DrawEntry.objects.filter(draw_id=draw.pk, tickets__gt=0).order_by("member_id")
                .values_list("member_id", "tickets"))


def draw_run(*, draw_id: int, now: datetime | None = None) -> list[DrawWinner] | None:
    """Draw the winners of a due draw once, reveal its seed, then deliver prizes and messages.

    The draw row is locked (``SELECT ... FOR UPDATE`` filtered on a drawable status), so of
    concurrent runs one draws and the others get ``None``. Winners and the revealed seed
    are committed together; ``draw_results_deliver`` follows outside that transaction.
    """
    now = now or timezone.now()
    with transaction.atomic():
        draw = (LuckyDraw.objects.select_for_update()
                .filter(pk=draw_id, status__in=[Status.OPEN, Status.CLOSED], draw_at__lte=now).first())
        if draw is None:
            return None
        seed = bytes.fromhex(draw.seed)
        entries = canonical_entry_list(draw)
        tickets_of = dict(entries)
        slots = prize_slots(draw)
        winner_ids = draw_winners(seed, entries, len(slots))
        updated = LuckyDraw.objects.filter(pk=draw.pk, status__in=[Status.OPEN, Status.CLOSED]).update(
            status=Status.DRAWN, revealed_seed=draw.seed, drawn_at=now, updated_at=now)
        if updated != 1:  # cannot happen under the row lock; never draw twice anyway
            return None
        winners = DrawWinner.objects.bulk_create(
            DrawWinner(draw=draw, prize=slots[index], member_id=member_id, slot=index + 1,
                       tickets=tickets_of[member_id])
            for index, member_id in enumerate(winner_ids))
    draw_results_deliver(draw=LuckyDraw.objects.get(pk=draw_id), now=now)
    return winners


def winner_award(*, winner: DrawWinner, now: datetime | None = None) -> DrawWinner:
    """Give one winner their prize and LINE notice, once (keys ``draw:{draw}:{slot}``).

    Locks the winner row. A coupon prize goes through ``coupon_issue``, a points prize
    through ``points_post`` (kind earn, channel campaign); a prize with neither is handed
    over by staff. A domain error (e.g. the reward is out of stock) is recorded on the
    winner, who stays pending for staff to deliver again.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            locked = (DrawWinner.objects.select_for_update(of=("self",))
                      .select_related("draw__brand", "draw__currency", "prize__reward", "member__brand")
                      .get(pk=winner.pk))
            if locked.awarded_at is not None:
                return locked
            draw, prize, member = locked.draw, locked.prize, locked.member
            key = f"draw:{draw.pk}:{locked.slot}"
            if prize.reward_id is not None:
                locked.coupon = coupon_issue(member=member, reward=prize.reward, key=key, now=now).coupon
            elif prize.points:
                account = account_get_or_create(member=member, currency=draw.currency)
                locked.ledger_entry = points_post(
                    account=account, amount=prize.points, kind=Kind.EARN, idempotency_key=key,
                    source=Source(channel=Channel.CAMPAIGN, reason="Lucky draw prize", reference=draw.name,
                                  details={"draw": draw.pk, "slot": locked.slot, "prize": prize.pk}),
                    expires_at=lot_expiry(currency=draw.currency, earned_at=now),
                )
            locked.awarded_at, locked.award_error = now, ""
            locked.save(update_fields=["coupon", "ledger_entry", "awarded_at", "award_error"])
            template, body = messages.won(member, draw, prize, locked.coupon)
            message_push(member=member, template=template, messages=body, purpose=TRANSACTIONAL,
                         dedupe_key=f"{key}:won")
            return locked
    except DomainError as error:
        DrawWinner.objects.filter(pk=winner.pk).update(award_error=str(error.message)[:200])
        winner.refresh_from_db()
        return winner


def draw_consolations_send(*, draw: LuckyDraw) -> int:
    """One message to every participant who did not win, once (one dedupe key per language)."""
    if not draw.consolation_enabled:
        return 0
    losers = (Member.objects.select_related("brand").filter(draw_entries__draw=draw, draw_entries__tickets__gt=0)
              .exclude(draw_wins__draw=draw).order_by("pk"))
    sent = 0
    for language in ("th", "en"):
        group = [member for member in losers if (member.language == "en") == (language == "en")]
        if not group:
            continue
        template, body = messages.consolation(language, draw)
        message_multicast(brand=draw.brand, members=group, template=template, messages=body, purpose=TRANSACTIONAL,
                          dedupe_key=f"draw:{draw.pk}:consolation:{language}")
        sent += len(group)
    return sent


def draw_results_deliver(*, draw: LuckyDraw, now: datetime | None = None) -> int:
    """Award every winner still pending and send the consolations; returns the prizes delivered now."""
    now = now or timezone.now()
    delivered = 0
    for winner in DrawWinner.objects.filter(draw=draw, awarded_at__isnull=True).order_by("slot"):
        if winner_award(winner=winner, now=now).awarded_at is not None:
            delivered += 1
    draw_consolations_send(draw=draw)
    LuckyDraw.objects.filter(pk=draw.pk, results_delivered_at__isnull=True).update(results_delivered_at=now)
    return delivered


def draws_run_due(*, now: datetime | None = None) -> dict:
    """The beat job: close due entries, draw due draws, finish deliveries a crash interrupted."""
    now = now or timezone.now()
    closed = draws_close_due(now=now)
    due = list(LuckyDraw.objects.filter(status__in=[Status.OPEN, Status.CLOSED], draw_at__lte=now)
               .order_by("draw_at", "pk").values_list("pk", flat=True))
    drawn = [draw_id for draw_id in due if draw_run(draw_id=draw_id, now=now) is not None]
    unfinished = LuckyDraw.objects.filter(status=Status.DRAWN, results_delivered_at__isnull=True).exclude(
        pk__in=drawn)
    for draw in unfinished:
        draw_results_deliver(draw=draw, now=now)
    return {"closed": closed, "drawn": drawn}
