"""Reads of coupon promotions and flash rewards, scoped by brand or member."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from loyalty import selectors as loyalty_selectors
from loyalty.models import Coupon, Purchase, Reward
from members.models import Brand, Member

from .models import CouponGrant, CouponRule
from .terms import coupon_terms


def flash_rewards_current(*, brand: Brand, at: datetime | None = None):
    """The brand's flash rewards available now (redeemable, inside their window), ending soonest first."""
    return (loyalty_selectors.rewards_available(brand=brand, at=at).filter(is_flash=True, redeemable=True)
            .prefetch_related("branches").order_by("ends_at", "pk"))


@dataclass(frozen=True)
class FlashOffer:
    reward: Reward
    name: str
    terms: str
    enough: bool
    out_of_stock: bool
    locked_for: str  # the tier it needs, when the member's tier doesn't unlock it
    seconds_left: int


def flash_offers_for_member(*, member: Member, at: datetime | None = None) -> list[FlashOffer]:
    """What the member sees of the current flash rewards: name, value, countdown, stock, can they redeem."""
    at = at or timezone.now()
    rewards = list(flash_rewards_current(brand=member.brand, at=at))
    if not rewards:
        return []
    balances = {account.currency_id: account.balance for account in loyalty_selectors.member_balances(member=member)}
    unlocked = set(loyalty_selectors.rewards_unlocked(member=member, at=at).filter(is_flash=True)
                   .values_list("pk", flat=True))
    language = member.language
    return [FlashOffer(
        reward=reward, name=reward.name_en if language == "en" and reward.name_en else reward.name,
        terms=str(coupon_terms(reward, language, branches=list(reward.branches.all()))),
        enough=balances.get(reward.currency_id, 0) >= reward.points_cost, out_of_stock=reward.stock == 0,
        locked_for="" if reward.pk in unlocked else reward.min_tier.label(language),
        seconds_left=max(0, int((reward.ends_at - at).total_seconds())),
    ) for reward in rewards]


def coupon_rules_running(*, brand: Brand, at: datetime | None = None) -> list[CouponRule]:
    """The brand's active purchase promotions inside their window (what the offers page lists)."""
    at = at or timezone.now()
    rules = (CouponRule.objects.filter(brand=brand, status=CouponRule.Status.ACTIVE,
                                       trigger=CouponRule.Trigger.PURCHASE)
             .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
             .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
             .select_related("reward").prefetch_related("reward__branches").order_by("min_spend_thb", "pk"))
    return list(rules)


@dataclass(frozen=True)
class SpendGroup:
    members: int
    spend: Decimal

    @property
    def per_member(self) -> Decimal:
        return (self.spend / self.members).quantize(Decimal("0.01")) if self.members else Decimal("0.00")


@dataclass(frozen=True)
class RuleResults:
    issued: int
    used: int
    cancelled: int
    start: datetime | None
    end: datetime
    used_group: SpendGroup
    unused_group: SpendGroup

    @property
    def usage_rate(self) -> Decimal:
        """Used coupons per issued coupon, in percent (one decimal)."""
        if not self.issued:
            return Decimal("0.0")
        return (Decimal(self.used) * 100 / self.issued).quantize(Decimal("0.1"))


def coupon_rule_results(*, rule: CouponRule, now: datetime | None = None) -> RuleResults:
    """Coupons issued and used, and the spend in the rule's period of members who used one vs. not.

    The period is the rule's window (its first grant when it has no start) up to its end or
    now. Spend is purchases' total minus refunds. A few aggregate queries whatever the size.
    """
    now = now or timezone.now()
    counts = CouponGrant.objects.filter(rule=rule).aggregate(
        issued=Count("pk"), used=Count("pk", filter=Q(coupon__status=Coupon.Status.USED)),
        cancelled=Count("pk", filter=Q(coupon__status=Coupon.Status.CANCELLED)))
    start = rule.starts_at or CouponGrant.objects.filter(rule=rule).order_by("created_at").values_list(
        "created_at", flat=True).first()
    end = min(rule.ends_at, now) if rule.ends_at else now
    used_grant = CouponGrant.objects.filter(rule=rule, member=OuterRef("member_id"),
                                            coupon__status=Coupon.Status.USED)
    any_grant = CouponGrant.objects.filter(rule=rule, member=OuterRef("member_id"))
    purchases = Purchase.objects.filter(brand_id=rule.brand_id, purchased_at__lt=end)
    if start is not None:
        purchases = purchases.filter(purchased_at__gte=start)
    purchases = purchases.annotate(used=Exists(used_grant), given=Exists(any_grant)).filter(given=True)
    net = F("total") - F("refunded_total")
    spend = purchases.aggregate(used_spend=Sum(net, filter=Q(used=True), default=Decimal("0.00")),
                                unused_spend=Sum(net, filter=Q(used=False), default=Decimal("0.00")))
    # Members given a coupon who bought nothing in the period still count as members (0 THB).
    members_used = CouponGrant.objects.filter(rule=rule, coupon__status=Coupon.Status.USED).values(
        "member_id").distinct().count()
    members_given = CouponGrant.objects.filter(rule=rule).values("member_id").distinct().count()
    return RuleResults(
        issued=counts["issued"], used=counts["used"], cancelled=counts["cancelled"], start=start, end=end,
        used_group=SpendGroup(members=members_used, spend=spend["used_spend"]),
        unused_group=SpendGroup(members=members_given - members_used, spend=spend["unused_spend"]),
    )

