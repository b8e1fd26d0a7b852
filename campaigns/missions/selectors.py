"""Reads for the member portal and the admin: missions with progress, reviewable products, results.

Every function takes the member (or the mission) and scopes to its brand itself.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import Coupon, LedgerEntry, Purchase, PurchaseLine
from members.models import Member

from .models import Mission, MissionProgress, Objective, ProductReview
from .services import missions_open_for, objective_values

Kinds = Objective.Kind
ZERO = Decimal("0")


def _number(value: Decimal, *, money: bool) -> str:
    value = Decimal(value)
    if money and value != value.to_integral_value():
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def objective_label(objective: Objective, language: str = "th") -> str:
    """What the objective asks, in the active language (the caller activates the member's)."""
    target = _number(objective.target, money=objective.is_money)
    count = int(objective.target)
    if objective.kind == Kinds.SPEND:
        return _("Spend %(amount)s THB") % {"amount": target}
    if objective.kind == Kinds.PURCHASES:
        return (_("Make a purchase") if count == 1 else _("Make %(count)s purchases") % {"count": target})
    if objective.kind == Kinds.PRODUCT:
        item = objective.sku or objective.category
        if objective.measure == Objective.Measure.AMOUNT:
            return _("Buy %(item)s for %(amount)s THB") % {"item": item, "amount": target}
        return _("Buy %(count)s × %(item)s") % {"count": target, "item": item}
    if objective.kind == Kinds.BRANCHES:
        return (_("Visit a branch") if count == 1 else _("Visit %(count)s different branches") % {"count": target})
    if objective.kind == Kinds.REVIEW:
        return (_("Review a product you bought") if count == 1
                else _("Review %(count)s products you bought") % {"count": target})
    if objective.kind == Kinds.SURVEY:
        if objective.survey_id:
            return _("Answer the survey “%(title)s”") % {"title": objective.survey.display_title(language)}
        return _("Answer a survey")
    if objective.kind == Kinds.CHECK_INS:
        return (_("Check in today") if count == 1 else _("Check in on %(count)s days") % {"count": target})
    return (_("Invite a friend who registers") if count == 1
            else _("Invite %(count)s friends who register") % {"count": target})


@dataclass
class ObjectiveRow:
    objective: Objective
    label: str
    value: Decimal
    shown: str
    percent: int
    done: bool


@dataclass
class MissionCard:
    mission: Mission
    name: str
    description: str
    progress: MissionProgress | None
    rows: list[ObjectiveRow]
    completions: int
    completed: bool  # nothing more to do: a once mission done, or the repeat limit reached
    ends_at: datetime
    rewards: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(sum(row.percent for row in self.rows) / len(self.rows)) if self.rows else 0


def _rewards(mission: Mission, language: str) -> list[str]:
    rewards = []
    if mission.reward_points:
        rewards.append(_("%(points)s points") % {"points": f"{mission.reward_points:,}"})
    if mission.reward_coupon_id:
        reward = mission.reward_coupon
        rewards.append(reward.name_en if language == "en" and reward.name_en else reward.name)
    return rewards


def _card(mission: Mission, member: Member, attempts: list[MissionProgress],
          values: dict[int, dict[int, Decimal]], now: datetime) -> MissionCard:
    language = member.language
    completions = sum(1 for attempt in attempts if attempt.is_completed)
    latest = attempts[0] if attempts else None
    limit_reached = (not mission.repeatable and completions >= 1) or (
        mission.repeatable and mission.max_completions and completions >= mission.max_completions)
    current = latest
    if latest is not None and not latest.is_completed and latest.window_ends_at <= now:
        current = None  # a lapsed rolling window: the next progress opens a new one
    if latest is not None and latest.is_completed and not limit_reached:
        current = None  # completed; the next cycle starts at the next progress
    shown_progress = latest if limit_reached else current
    found = values.get(shown_progress.pk, {}) if shown_progress else {}
    rows = []
    for objective in mission.objectives.all():
        value = found.get(objective.pk, ZERO)
        percent = 100 if objective.target <= 0 else min(100, int(value * 100 / objective.target))
        money = objective.is_money
        shown = f"{_number(min(value, objective.target), money=money)} / {_number(objective.target, money=money)}"
        rows.append(ObjectiveRow(objective, objective_label(objective, language), value, shown, percent,
                                 value >= objective.target))
    ends_at = current.window_ends_at if current is not None else mission.ends_at
    return MissionCard(mission=mission, name=mission.display_name(language),
                       description=mission.display_description(language), progress=shown_progress, rows=rows,
                       completions=completions, completed=bool(limit_reached), ends_at=ends_at,
                       rewards=_rewards(mission, language))


def member_missions(*, member: Member, now: datetime | None = None) -> list[MissionCard]:
    """The active missions the member can take part in now, with their progress (a few queries)."""
    now = now or timezone.now()
    missions = list(missions_open_for(member=member, kinds=Kinds.values, at=now))
    return _cards(member, missions, now)


def _cards(member: Member, missions: list[Mission], now: datetime) -> list[MissionCard]:
    attempts: dict[int, list[MissionProgress]] = {}
    for attempt in MissionProgress.objects.filter(member=member, mission__in=missions).order_by("mission", "-cycle"):
        attempts.setdefault(attempt.mission_id, []).append(attempt)
    values = objective_values([attempt.pk for rows in attempts.values() for attempt in rows])
    cards = [_card(mission, member, attempts.get(mission.pk, []), values, now) for mission in missions]
    return sorted(cards, key=lambda card: (card.completed, card.ends_at))


def member_mission(*, member: Member, mission_id: int, now: datetime | None = None) -> MissionCard | None:
    """One mission the member can see: running now (or one they already took part in)."""
    now = now or timezone.now()
    mission = (Mission.objects.filter(pk=mission_id, brand_id=member.brand_id)
               .exclude(status=Mission.Status.DRAFT)
               .prefetch_related("objectives__survey", "tiers").select_related("reward_coupon").first())
    if mission is None:
        return None
    open_now = any(found.pk == mission.pk for found in missions_open_for(member=member, kinds=Kinds.values, at=now))
    if not open_now and not MissionProgress.objects.filter(mission=mission, member=member).exists():
        return None
    return _cards(member, [mission], now)[0]


# --- reviews ---------------------------------------------------------------------------------


@dataclass
class Reviewable:
    sku: str
    name: str
    last_bought_at: datetime
    review: ProductReview | None


def reviewable_products(*, member: Member) -> list[Reviewable]:
    """SKUs the member bought (purchases not fully refunded), last bought first, with their review if any."""
    latest: dict[str, dict] = {}
    lines = (PurchaseLine.objects.filter(purchase__member=member, purchase__brand_id=member.brand_id)
             .exclude(purchase__status=Purchase.Status.REFUNDED).exclude(sku="")
             .values("sku", "category", "purchase__purchased_at").order_by("purchase__purchased_at", "pk"))
    for line in lines:
        latest[line["sku"]] = line
    reviews = {review.sku: review for review in ProductReview.objects.filter(member=member, sku__in=list(latest))}
    items = [Reviewable(sku=sku, name=line["category"] or sku, last_bought_at=line["purchase__purchased_at"],
                        review=reviews.get(sku)) for sku, line in latest.items()]
    return sorted(items, key=lambda item: item.last_bought_at, reverse=True)


# --- referrals -------------------------------------------------------------------------------


def referral_count(*, member: Member) -> int:
    return member.referrals_made.count()


# --- results (admin) -------------------------------------------------------------------------


@dataclass
class MissionResults:
    participants: int
    completions: int
    members_completed: int
    points_given: int
    coupons_given: int
    participant_spend: Decimal
    participant_buyers: int
    other_spend: Decimal
    other_buyers: int

    @property
    def participant_average(self) -> Decimal:
        return (self.participant_spend / self.participant_buyers).quantize(Decimal("0.01")) if self.participant_buyers else ZERO

    @property
    def other_average(self) -> Decimal:
        return (self.other_spend / self.other_buyers).quantize(Decimal("0.01")) if self.other_buyers else ZERO


def mission_results(*, mission: Mission) -> MissionResults:
    """Participants, completions, what was given and the spend of participants vs everyone else
    in the mission period (net of refunds), set-based."""
    attempts = MissionProgress.objects.filter(mission=mission)
    counts = attempts.aggregate(participants=Count("member", distinct=True),
                                completions=Count("pk", filter=Q(completed_at__isnull=False)),
                                members_completed=Count("member", distinct=True,
                                                        filter=Q(completed_at__isnull=False)))
    prefix = f"mission:{mission.pk}:"
    points = LedgerEntry.objects.filter(brand_id=mission.brand_id, idempotency_key__startswith=prefix).aggregate(
        total=Sum("amount"))["total"] or 0
    coupons = Coupon.objects.filter(brand_id=mission.brand_id, issue_key__startswith=prefix).count()
    participant_ids = attempts.values("member_id")
    purchases = Purchase.objects.filter(brand_id=mission.brand_id, purchased_at__gte=mission.starts_at,
                                        purchased_at__lt=mission.ends_at)
    spend = purchases.aggregate(
        participant=Sum("total", filter=Q(member_id__in=participant_ids)),
        participant_refunded=Sum("refunded_total", filter=Q(member_id__in=participant_ids)),
        participant_buyers=Count("member", distinct=True, filter=Q(member_id__in=participant_ids)),
        other=Sum("total", filter=~Q(member_id__in=participant_ids)),
        other_refunded=Sum("refunded_total", filter=~Q(member_id__in=participant_ids)),
        other_buyers=Count("member", distinct=True, filter=~Q(member_id__in=participant_ids)),
    )
    return MissionResults(
        participants=counts["participants"], completions=counts["completions"],
        members_completed=counts["members_completed"], points_given=points, coupons_given=coupons,
        participant_spend=(spend["participant"] or ZERO) - (spend["participant_refunded"] or ZERO),
        participant_buyers=spend["participant_buyers"],
        other_spend=(spend["other"] or ZERO) - (spend["other_refunded"] or ZERO),
        other_buyers=spend["other_buyers"])


def mission_audience_count(*, mission: Mission) -> int:
    """How many active members of the brand the audience includes today (by current tier)."""
    members = Member.objects.filter(brand_id=mission.brand_id, status=Member.Status.ACTIVE)
    tier_ids = list(mission.tiers.values_list("pk", flat=True))
    if tier_ids:
        members = members.filter(tier_status__tier_id__in=tier_ids)
    return members.count()
