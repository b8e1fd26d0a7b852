"""Reads for the loyalty domain. Each selector takes the brand so scoping cannot be forgotten."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import Min, Q, QuerySet, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from members.models import Brand, Member

from .models import (
    Coupon,
    LedgerEntry,
    MemberTier,
    PointAccount,
    PointLot,
    Purchase,
    Reward,
    Tier,
    TierProgram,
)
from .services.ledger import BANGKOK


def member_balances(*, member: Member) -> list[PointAccount]:
    """One account per currency of the brand (zero where the member has none yet)."""
    accounts = {a.currency_id: a for a in PointAccount.objects.filter(member=member).select_related("currency")}
    result = []
    for currency in member.brand.currencies.order_by("-is_default", "code"):
        result.append(accounts.get(currency.pk) or PointAccount(member=member, currency=currency, balance=0))
    return result


def member_ledger(*, member: Member) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(account__member=member)
        .select_related("account__currency", "purchase__branch", "redemption__reward")
        .order_by("-id")
    )


def rewards_available(*, brand: Brand, at=None) -> QuerySet[Reward]:
    at = at or timezone.now()
    return (
        Reward.objects.filter(brand=brand, is_active=True, redeemable=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .select_related("currency", "min_tier")
        .order_by("points_cost", "pk")
    )


def purchase_get(*, brand: Brand, purchase_id: int) -> Purchase | None:
    return Purchase.objects.filter(brand=brand, pk=purchase_id).first()


def member_points_expiring(*, member: Member, within_days: int = 30, at=None):
    """``(points, earliest expiry)`` of the member's default-currency lots expiring soon, or None."""
    at = at or timezone.now()
    lots = PointLot.objects.filter(
        account__member=member, account__currency__is_default=True, remaining__gt=0,
        expires_at__gt=at, expires_at__lte=at + timedelta(days=within_days),
    )
    summary = lots.aggregate(points=Sum("remaining"), first=Min("expires_at"))
    if not summary["points"]:
        return None
    return summary["points"], summary["first"]


def member_coupons_active(*, member: Member, at=None) -> QuerySet[Coupon]:
    at = at or timezone.now()
    return (
        Coupon.objects.filter(member=member, status=Coupon.Status.ISSUED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .select_related("reward")
        .order_by("expires_at", "pk")
    )


def coupon_lookup(*, brand: Brand, code: str) -> Coupon | None:
    """The brand's coupon with this (normalised) code, with its reward, member and where it was used."""
    if not code:
        return None
    return Coupon.objects.select_related("reward", "member", "used_branch").filter(brand=brand, code=code).first()


# --- tiers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierStatus:
    """What a member sees of their tier: where they are, what the next tier needs and by when."""

    program: TierProgram
    tiers: list[Tier]
    tier: Tier | None
    qualified_until: datetime | None
    grace_until: datetime | None
    override_until: datetime | None
    value: Decimal
    next_tier: Tier | None
    needed: Decimal
    deadline: date | None  # the last Bangkok day to reach the next tier (None: any rolling window)

    @property
    def review_date(self) -> date | None:
        """The Bangkok day the tier is reviewed on (it holds through the day before)."""
        return timezone.localtime(self.qualified_until, BANGKOK).date() if self.qualified_until else None

    def next_step(self, language: str) -> str:
        """E.g. "Spend 3,200 THB more by 31 Dec 2026 to reach Gold." ('' at the top tier)."""
        if self.next_tier is None:
            return ""
        metric = self.program.metric
        amount = (f"{self.needed:,.0f}" if self.needed == self.needed.to_integral_value() else f"{self.needed:,.2f}")
        values = {"amount": amount, "tier": self.next_tier.label(language)}
        if self.deadline:
            values["date"] = formats.date_format(self.deadline, "j M Y")
            if metric == TierProgram.Metric.POINTS:
                return _("Earn %(amount)s more points by %(date)s to reach %(tier)s.") % values
            if metric == TierProgram.Metric.PURCHASES:
                return _("Make %(amount)s more purchases by %(date)s to reach %(tier)s.") % values
            return _("Spend %(amount)s THB more by %(date)s to reach %(tier)s.") % values
        values["months"] = self.program.rolling_months
        if metric == TierProgram.Metric.POINTS:
            return _("Earn %(amount)s more points within %(months)s months to reach %(tier)s.") % values
        if metric == TierProgram.Metric.PURCHASES:
            return _("Make %(amount)s more purchases within %(months)s months to reach %(tier)s.") % values
        return _("Spend %(amount)s THB more within %(months)s months to reach %(tier)s.") % values


def member_tier_status(*, member: Member, now=None) -> TierStatus | None:
    """The member's tier status (None when the brand runs no active tier program)."""
    from .services import tiers as tier_rules

    now = now or timezone.now()
    program = tier_rules.program_for(member.brand_id)
    tiers = tier_rules.brand_tiers(member.brand_id) if program else []
    if not tiers:
        return None
    row = MemberTier.objects.select_related("tier").filter(member_id=member.pk).first()
    tier = row.tier if row else tier_rules.entry_tier(tiers)
    start, end = tier_rules.current_window(program, now)
    value = tier_rules.member_tier_value(member_id=member.pk, program=program, start=start, end=end)
    rank = tier.rank if tier else -1
    next_tier = next((candidate for candidate in tiers if candidate.rank > rank), None)
    needed = Decimal("0")
    if next_tier is not None:
        needed = next_tier.threshold - value
        if program.metric == TierProgram.Metric.SPEND:
            needed = max(needed, Decimal("0.01"))
        else:  # whole points and purchases
            needed = max(needed.to_integral_value(rounding=ROUND_CEILING), Decimal("1"))
    if program.period == TierProgram.Period.CALENDAR_YEAR:
        deadline = (end - timedelta(days=1)).astimezone(BANGKOK).date()
    elif next_tier is not None:  # by the day the window's earliest purchase (or points) stops counting
        deadline = tier_rules.member_tier_counts_until(member_id=member.pk, program=program, now=now)
    else:
        deadline = None
    return TierStatus(program=program, tiers=tiers, tier=tier, qualified_until=row.qualified_until if row else None,
                      grace_until=row.grace_until if row else None, override_until=row.override_until if row else None,
                      value=value, next_tier=next_tier, needed=needed, deadline=deadline)


def _member_tier_rank(member: Member) -> int | None:
    """The rank of the member's tier (the entry tier's while they have no tier row yet); None: no tier."""
    from .services import tiers as tier_rules

    tier = tier_rules.member_tier(member)
    return tier.rank if tier else None


def rewards_for_member(*, member: Member, at=None) -> list[tuple[Reward, bool]]:
    """The brand's available rewards with whether the member's tier unlocks each (``min_tier``)."""
    rank = _member_tier_rank(member)
    rewards = rewards_available(brand=member.brand, at=at).select_related("min_tier")
    return [(reward, reward.min_tier_id is None or (rank is not None and rank >= reward.min_tier.rank))
            for reward in rewards]


def member_tier_row(*, member: Member) -> MemberTier | None:
    """The member's ``MemberTier`` with its tier (None: never evaluated)."""
    return MemberTier.objects.select_related("tier").filter(member_id=member.pk).first()


def rewards_unlocked(*, member: Member, at=None) -> QuerySet[Reward]:
    """The available rewards the member's tier unlocks (no ``min_tier``, or one at or below their tier)."""
    rank = _member_tier_rank(member)
    unlocked = Q(min_tier__isnull=True) | (Q(min_tier__rank__lte=rank) if rank is not None else Q(pk__in=[]))
    return rewards_available(brand=member.brand, at=at).filter(unlocked)
