"""Missions: lifecycle (publish, pause, end) and member progress with exactly-once completion.

Contracts:

- Progress is written only by the ``*_progress`` functions below, which the event
  subscribers call (through Celery tasks) after the source committed. Each locks the
  member's current ``MissionProgress`` row (``SELECT ... FOR UPDATE``), appends
  ``Contribution`` rows, and completes the attempt when every objective is met.
- A source counts once per mission and member: its ``recorded`` contribution is looked
  up under the lock (and the unique constraint backs it), so a replayed event adds nothing.
- Refunds recompute the purchase's contribution from ``refunded_total`` and its lines and
  append the difference, only while the attempt is not completed. Completed progress is
  never taken back.
- Completion grants the points entry and the coupon with the key
  ``mission:{mission}:{member}:{cycle}`` inside the same transaction (lock order: progress
  row, then the point account), and emits ``mission_completed`` after commit.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from loyalty import events
from loyalty.errors import RewardOutOfStock
from loyalty.models import Purchase
from loyalty.services.coupons import coupon_issue
from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, lot_expiry, points_post
from loyalty.services.tiers import member_tier
from members.models import Member

from .errors import MissionHasNoObjectives, MissionStateInvalid
from .events import MISSION_COMPLETED
from .models import Contribution, Mission, MissionProgress, Objective

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0")
Kinds = Objective.Kind
SourceKind = Contribution.SourceKind
PURCHASE_KINDS = (Kinds.SPEND, Kinds.PURCHASES, Kinds.PRODUCT, Kinds.BRANCHES)


# --- lifecycle -------------------------------------------------------------------------------

_MOVES = {
    "publish": ({Mission.Status.DRAFT, Mission.Status.PAUSED}, Mission.Status.ACTIVE),
    "pause": ({Mission.Status.ACTIVE}, Mission.Status.PAUSED),
    "end": ({Mission.Status.DRAFT, Mission.Status.ACTIVE, Mission.Status.PAUSED}, Mission.Status.ENDED),
}


def _move(mission: Mission, move: str) -> Mission:
    allowed, target = _MOVES[move]
    with transaction.atomic():
        locked = Mission.objects.select_for_update().get(pk=mission.pk)
        if locked.status not in allowed:
            raise MissionStateInvalid()
        if target == Mission.Status.ACTIVE and not locked.objectives.exists():
            raise MissionHasNoObjectives()
        locked.status = target
        fields = ["status", "updated_at"]
        if target == Mission.Status.ACTIVE and locked.published_at is None:
            locked.published_at = timezone.now()
            fields.append("published_at")
        locked.save(update_fields=fields)
    return locked


def mission_publish(*, mission: Mission) -> Mission:
    """Draft or paused → active (progress counts from now on). Raises ``MissionStateInvalid``,
    ``MissionHasNoObjectives``."""
    return _move(mission, "publish")


def mission_pause(*, mission: Mission) -> Mission:
    """Active → paused: events while paused do not count; progress so far is kept."""
    return _move(mission, "pause")


def mission_end(*, mission: Mission) -> Mission:
    """Any status but ended → ended, for good."""
    return _move(mission, "end")


# --- what a source is worth ------------------------------------------------------------------


@dataclass(frozen=True)
class Worth:
    value: Decimal
    dimension: str = ""


def _refund_factor(purchase: Purchase) -> Decimal:
    if purchase.status == Purchase.Status.REFUNDED:
        return ZERO
    if purchase.total <= 0:
        return Decimal("1")
    return (purchase.total - purchase.refunded_total) / purchase.total


def purchase_worth(objective: Objective, purchase: Purchase) -> Worth:
    """What ``purchase`` (in its current, possibly partly refunded state) counts for ``objective``.

    Spend: total − refunded_total. Purchases and branches: 1 unless fully refunded. SKU or
    category: the matching lines' quantity (rounded down) or amount, scaled by the share
    of the purchase that is not refunded.
    """
    counts = purchase.status != Purchase.Status.REFUNDED
    if objective.kind == Kinds.SPEND:
        return Worth(purchase.total - purchase.refunded_total)
    if objective.kind == Kinds.PURCHASES:
        return Worth(Decimal(int(counts)))
    if objective.kind == Kinds.BRANCHES:
        if purchase.branch_id is None:
            return Worth(ZERO)
        return Worth(Decimal(int(counts)), str(purchase.branch_id))
    if objective.kind == Kinds.PRODUCT:
        lines = [line for line in purchase.lines.all()
                 if (objective.sku and line.sku == objective.sku)
                 or (not objective.sku and objective.category and line.category == objective.category)]
        factor = _refund_factor(purchase)
        if objective.measure == Objective.Measure.AMOUNT:
            amount = sum((line.amount for line in lines), ZERO) * factor
            return Worth(amount.quantize(CENT, rounding=ROUND_FLOOR))
        quantity = sum(line.quantity for line in lines) * factor
        return Worth(quantity.to_integral_value(rounding=ROUND_FLOOR))
    return Worth(ZERO)


# --- progress --------------------------------------------------------------------------------


def missions_open_for(*, member: Member, kinds, at: datetime):
    """Active missions of the member's brand running at ``at`` that have an objective of ``kinds``
    and whose audience includes the member."""
    missions = (Mission.objects.filter(brand_id=member.brand_id, status=Mission.Status.ACTIVE,
                                       starts_at__lte=at, ends_at__gt=at, objectives__kind__in=list(kinds))
                .distinct().select_related("reward_coupon", "reward_currency")
                .prefetch_related("objectives__survey", "tiers").order_by("pk"))
    tier = None
    tier_known = False
    for mission in missions:
        tier_ids = {tier.pk for tier in mission.tiers.all()}
        if tier_ids:
            if not tier_known:
                tier, tier_known = member_tier(member), True
            if tier is None or tier.pk not in tier_ids:
                continue
        yield mission


def _window(mission: Mission, at: datetime) -> tuple[datetime, datetime]:
    if mission.window == Mission.Window.ROLLING:
        return at, min(at + timedelta(days=mission.window_days), mission.ends_at)
    return mission.starts_at, mission.ends_at


def _progress_for_update(mission: Mission, member: Member, at: datetime) -> MissionProgress | None:
    """Lock the member's attempt that an event at ``at`` counts for, opening one when due.

    None: nothing can count (a once mission already completed, the completion limit
    reached, or an event older than the current attempt). When a concurrent event opened or
    completed the attempt this one was about to open, the choice is made again under the
    new row's lock, so no event is lost and none counts twice.
    """
    for _retry in range(10):
        attempts = MissionProgress.objects.select_for_update().filter(mission=mission, member=member)
        latest = attempts.order_by("-cycle").first()
        if latest is not None and not latest.is_completed:
            if latest.window_starts_at <= at < latest.window_ends_at:
                return latest
            if at < latest.window_ends_at:
                return None  # before this attempt's window
        if latest is not None and latest.is_completed:
            completions = attempts.filter(completed_at__isnull=False).count()
            if not mission.repeatable or (mission.max_completions and completions >= mission.max_completions):
                return None
        cycle = latest.cycle + 1 if latest is not None else 1
        starts_at, ends_at = _window(mission, at)
        progress, created = MissionProgress.objects.get_or_create(
            mission=mission, member=member, cycle=cycle,
            defaults={"brand_id": member.brand_id, "window_starts_at": starts_at, "window_ends_at": ends_at})
        if created:
            return MissionProgress.objects.select_for_update().get(pk=progress.pk)
        # Another event opened this cycle first: decide again under its lock.
        MissionProgress.objects.select_for_update().get(pk=progress.pk)
    raise RuntimeError(f"mission {mission.pk}: could not settle the attempt of member {member.pk}")


def objective_values(progress_ids) -> dict[int, dict[int, Decimal]]:
    """``{progress_id: {objective_id: value}}`` from the contributions, in one query.

    Branch objectives count the distinct branches whose purchases still count.
    """
    values: dict[int, dict[int, Decimal]] = {}
    branches: dict[tuple[int, int], set[str]] = {}
    rows = (Contribution.objects.filter(progress_id__in=list(progress_ids))
            .values("progress_id", "objective_id", "objective__kind", "source_kind", "source_id", "dimension")
            .annotate(total=Sum("value")).order_by())
    for row in rows:
        per_progress = values.setdefault(row["progress_id"], {})
        if row["objective__kind"] == Kinds.BRANCHES:
            if row["total"] > 0:
                branches.setdefault((row["progress_id"], row["objective_id"]), set()).add(row["dimension"])
            per_progress.setdefault(row["objective_id"], ZERO)
            continue
        per_progress[row["objective_id"]] = per_progress.get(row["objective_id"], ZERO) + row["total"]
    for (progress_id, objective_id), seen in branches.items():
        values[progress_id][objective_id] = Decimal(len(seen))
    return values


def _complete_if_met(progress: MissionProgress, *, now: datetime | None = None) -> bool:
    """Complete ``progress`` when every objective is met. The caller holds its row lock.

    Grants the points (one EARN entry) and the coupon under the completion key; a coupon
    whose reward is out of stock is skipped (logged), the completion still stands.
    """
    mission = progress.mission
    objectives = list(mission.objectives.all())
    values = objective_values([progress.pk]).get(progress.pk, {})
    if not objectives or any(values.get(objective.pk, ZERO) < objective.target for objective in objectives):
        return False
    now = now or timezone.now()
    key = progress.completion_key()
    member = progress.member
    if mission.reward_points and mission.reward_currency_id:
        account = account_get_or_create(member=member, currency=mission.reward_currency)
        progress.points_entry = points_post(
            account=account, amount=mission.reward_points, kind=Kind.EARN, idempotency_key=key,
            source=Source(channel=Channel.CAMPAIGN, reason="mission", reference=mission.name,
                          details={"mission": mission.pk, "cycle": progress.cycle}),
            expires_at=lot_expiry(currency=mission.reward_currency, earned_at=now))
    if mission.reward_coupon_id:
        try:
            with transaction.atomic():
                progress.coupon = coupon_issue(member=member, reward=mission.reward_coupon, key=key, now=now).coupon
        except RewardOutOfStock:
            log.warning("mission %s: coupon reward %s out of stock for member %s", mission.pk,
                        mission.reward_coupon_id, member.pk)
    progress.completed_at = now
    progress.save(update_fields=["completed_at", "points_entry", "coupon", "updated_at"])
    events.emit(MISSION_COMPLETED, progress_id=progress.pk, member_id=member.pk, mission_id=mission.pk)
    return True


def _contribute(*, mission: Mission, member: Member, at: datetime, source_kind: str, source_id,
                worth: dict[Objective, Worth]) -> MissionProgress | None:
    """Add one source's worth to the member's current attempt; complete it when all is met."""
    worth = {objective: item for objective, item in worth.items() if item.value}
    if not worth:
        return None
    already = Contribution.objects.filter(progress__mission=mission, progress__member=member, source_kind=source_kind,
                                          source_id=str(source_id), event_key="recorded")
    if already.exists():  # a replayed event; checked again under the lock below
        return None
    with transaction.atomic():
        progress = _progress_for_update(mission, member, at)
        if progress is None:
            return None
        if already.exists():
            return progress
        for objective, item in worth.items():
            Contribution.objects.create(progress=progress, objective=objective, source_kind=source_kind,
                                        source_id=str(source_id), value=item.value, dimension=item.dimension)
        _complete_if_met(progress)
    return progress


def purchase_progress(*, purchase_id: int) -> list[MissionProgress]:
    """A recorded purchase counts for the spend, purchases, SKU/category and branch objectives."""
    purchase = (Purchase.objects.select_related("member").prefetch_related("lines")
                .filter(pk=purchase_id).first())
    if purchase is None:
        return []
    touched = []
    for mission in missions_open_for(member=purchase.member, kinds=PURCHASE_KINDS, at=purchase.purchased_at):
        worth = {objective: purchase_worth(objective, purchase)
                 for objective in mission.objectives.all() if objective.kind in PURCHASE_KINDS}
        progress = _contribute(mission=mission, member=purchase.member, at=purchase.purchased_at,
                               source_kind=SourceKind.PURCHASE, source_id=purchase.pk, worth=worth)
        if progress is not None:
            touched.append(progress)
    return touched


def purchase_refund_progress(*, purchase_id: int, refund_id: int) -> int:
    """Take a refunded purchase's progress back from every attempt not yet completed.

    Per attempt: lock it, recompute what the purchase is worth now, append the difference
    (``event_key = refund:<refund_id>``). Returns how many contributions were appended.
    """
    purchase = Purchase.objects.prefetch_related("lines").filter(pk=purchase_id).first()
    if purchase is None:
        return 0
    progress_ids = sorted(set(Contribution.objects.filter(source_kind=SourceKind.PURCHASE, source_id=str(purchase.pk))
                              .values_list("progress_id", flat=True)))
    appended = 0
    for progress_id in progress_ids:
        with transaction.atomic():
            progress = MissionProgress.objects.select_for_update().get(pk=progress_id)
            if progress.is_completed:
                continue
            counted = (Contribution.objects.filter(progress=progress, source_kind=SourceKind.PURCHASE,
                                                   source_id=str(purchase.pk))
                       .values("objective_id").annotate(total=Sum("value")).order_by())
            objectives = {objective.pk: objective for objective in progress.mission.objectives.all()}
            for row in counted:
                objective = objectives[row["objective_id"]]
                now_worth = purchase_worth(objective, purchase)
                delta = now_worth.value - row["total"]
                if delta:
                    Contribution.objects.create(
                        progress=progress, objective=objective, source_kind=SourceKind.PURCHASE,
                        source_id=str(purchase.pk), event_key=f"refund:{refund_id}", value=delta,
                        dimension=now_worth.dimension)
                    appended += 1
    return appended


def _single_source_progress(*, member: Member, kinds, source_kind: str, source_id, at: datetime,
                            matches=lambda objective: True) -> list[MissionProgress]:
    touched = []
    for mission in missions_open_for(member=member, kinds=kinds, at=at):
        worth = {objective: Worth(Decimal("1")) for objective in mission.objectives.all()
                 if objective.kind in kinds and matches(objective)}
        progress = _contribute(mission=mission, member=member, at=at, source_kind=source_kind,
                               source_id=source_id, worth=worth)
        if progress is not None:
            touched.append(progress)
    return touched


def _member(member_id: int) -> Member | None:
    return Member.objects.select_related("brand").filter(pk=member_id).first()


def review_progress(*, review_id: int) -> list[MissionProgress]:
    """A published review counts 1 for "review a product" objectives (at its publication time)."""
    from .models import ProductReview

    review = ProductReview.objects.select_related("member").filter(
        pk=review_id, status=ProductReview.Status.PUBLISHED).first()
    if review is None:
        return []
    return _single_source_progress(member=review.member, kinds=[Kinds.REVIEW], source_kind=SourceKind.REVIEW,
                                   source_id=review.pk, at=review.moderated_at or timezone.now())


def survey_progress(*, member_id: int, survey_id: int, response_id: int) -> list[MissionProgress]:
    """A completed survey counts for objectives on any survey or on this one."""
    member = _member(member_id)
    if member is None:
        return []
    return _single_source_progress(member=member, kinds=[Kinds.SURVEY], source_kind=SourceKind.SURVEY,
                                   source_id=response_id, at=timezone.now(),
                                   matches=lambda objective: objective.survey_id in (None, survey_id))


def check_in_progress(*, member_id: int, award_id: int) -> list[MissionProgress]:
    """A daily check-in (one per Bangkok day, decided by the activity app) counts 1."""
    member = _member(member_id)
    if member is None:
        return []
    return _single_source_progress(member=member, kinds=[Kinds.CHECK_INS], source_kind=SourceKind.CHECK_IN,
                                   source_id=award_id, at=timezone.now())


def referral_progress(*, referral_id: int) -> list[MissionProgress]:
    """A friend who registered through the referrer's link counts 1 for the referrer."""
    from .models import Referral

    referral = Referral.objects.select_related("referrer").filter(pk=referral_id).first()
    if referral is None:
        return []
    return _single_source_progress(member=referral.referrer, kinds=[Kinds.REFERRALS],
                                   source_kind=SourceKind.REFERRAL, source_id=referral.pk, at=referral.created_at)
