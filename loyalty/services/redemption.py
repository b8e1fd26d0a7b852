"""Redeeming rewards for points and using the coupons they issue.

Races are decided by the database: stock by a conditional ``UPDATE ... WHERE stock > 0``,
the request id by a unique constraint, the coupon's single use by a conditional
``UPDATE ... WHERE status = 'issued'``.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from loyalty import events
from loyalty.errors import (
    CouponAlreadyUsed,
    CouponBelowMinimumSpend,
    CouponCancelled,
    CouponExpired,
    CouponNotFound,
    CouponNotValidAtBranch,
    IdempotencyConflict,
    RewardInactive,
    RewardNotFound,
    RewardNotRedeemable,
    RewardOutOfStock,
)
from loyalty.models import Coupon, Redemption, Reward
from loyalty.models.rewards import normalise_coupon_code
from members.errors import MemberInactive
from members.models import Branch, Brand, Member

from .ledger import BANGKOK, Channel, Kind, Source, account_get_or_create, points_post
from .tiers import reward_tier_check


def _coupon_expiry(reward: Reward, now: datetime) -> datetime:
    """Valid through the end of the Bangkok day ``coupon_valid_days`` from now."""
    last_day = timezone.localtime(now, BANGKOK).date() + timedelta(days=reward.coupon_valid_days)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=BANGKOK)


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    created: bool


def _replay(existing: Redemption, *, member: Member, reward_id: int) -> RedeemResult:
    if existing.member_id != member.pk or existing.reward_id != reward_id:
        raise IdempotencyConflict(fields={"request_id": ["This request ID was already used for another redemption."]})
    return RedeemResult(existing, created=False)


def reward_redeem(
    *, brand: Brand, member: Member, reward_id: int, request_id: str, channel: str = Channel.POS
) -> RedeemResult:
    """Spend points on a reward and issue its coupon, once per ``request_id``.

    In one transaction: decrement stock conditionally (row lock on the reward), lock the
    account and debit the points, create the redemption and coupon. Raises
    ``RewardNotFound``, ``RewardInactive``, ``RewardOutOfStock``, ``InsufficientPoints``,
    ``MemberInactive``, ``RewardTierRequired`` (the reward's ``min_tier`` is above the
    member's tier), ``RewardNotRedeemable`` (a campaign-only reward) or ``IdempotencyConflict``;
    on any error nothing is written.
    """
    existing = Redemption.objects.filter(brand=brand, request_id=request_id).first()
    if existing is not None:
        return _replay(existing, member=member, reward_id=reward_id)
    reward = Reward.objects.select_related("currency").filter(brand=brand, pk=reward_id).first()
    if reward is None:
        raise RewardNotFound(fields={"reward": [str(RewardNotFound.message)]})
    now = timezone.now()
    if not reward.is_available(now):
        raise RewardInactive()
    if not reward.redeemable:
        raise RewardNotRedeemable()
    reward_tier_check(member=member, reward=reward)
    if member.status == Member.Status.SUSPENDED:
        raise MemberInactive()
    try:
        with transaction.atomic():
            account = account_get_or_create(member=member, currency=reward.currency)
            if reward.stock is not None:
                taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
                if taken != 1:
                    raise RewardOutOfStock()
            redemption = Redemption.objects.create(
                brand=brand, member=member, reward=reward, account=account, points=reward.points_cost,
                request_id=request_id, channel=channel,
            )
            points_post(
                account=account,
                amount=-reward.points_cost,
                kind=Kind.REDEEM,
                idempotency_key=f"redeem:{request_id}",
                source=Source(channel=Channel.REWARD, redemption=redemption, reference=reward.name),
            )
            Coupon.objects.create(
                brand=brand, member=member, reward=reward, redemption=redemption,
                expires_at=_coupon_expiry(reward, now),
            )
            events.emit(events.REWARD_REDEEMED, redemption_id=redemption.pk, member_id=member.pk)
    except IntegrityError:
        existing = Redemption.objects.filter(brand=brand, request_id=request_id).first()
        if existing is None:
            raise
        return _replay(existing, member=member, reward_id=reward_id)
    return RedeemResult(redemption, created=True)


def reward_restock(*, reward: Reward, quantity: int) -> Reward:
    """Add ``quantity`` (negative: remove) to a limited reward's stock, by a conditional UPDATE.

    Concurrent redemptions are kept; removing more than is left raises ``RewardOutOfStock``.
    """
    if reward.stock is None or quantity == 0:
        return reward
    updated = Reward.objects.filter(pk=reward.pk, stock__gte=max(0, -quantity)).update(
        stock=F("stock") + quantity, updated_at=timezone.now())
    if updated != 1:
        raise RewardOutOfStock()
    reward.refresh_from_db(fields=["stock"])
    return reward


def coupon_use(*, brand: Brand, code: str, branch: Branch | None = None, reference: str = "",
               bill_total: Decimal | None = None) -> Coupon:
    """Mark a coupon used, at most once, by a conditional UPDATE.

    The coupon's conditions (its reward's) are checked first and nothing is written when
    they fail: a coupon limited to some branches is refused elsewhere and when no branch
    is given (``CouponNotValidAtBranch``); with a ``bill_total``, a bill below the minimum
    spend is refused (``CouponBelowMinimumSpend``). Also raises ``CouponNotFound``,
    ``CouponAlreadyUsed``, ``CouponExpired``, ``CouponCancelled``.
    """
    code = normalise_coupon_code(code)
    now = timezone.now()
    coupon = Coupon.objects.select_related("reward").filter(brand=brand, code=code).first()
    if coupon is None:
        raise CouponNotFound()
    if coupon.status == Coupon.Status.ISSUED and (coupon.expires_at is None or coupon.expires_at > now):
        # The conditions are the reward's settings, not contended state: reading them first is safe.
        branch_ids = {row.pk for row in coupon.reward.branches.all()}
        if branch_ids and (branch is None or branch.pk not in branch_ids):
            raise CouponNotValidAtBranch()
        minimum = coupon.reward.min_spend_thb
        if bill_total is not None and minimum is not None and Decimal(bill_total) < minimum:
            raise CouponBelowMinimumSpend(minimum=minimum)
    updated = (
        Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(status=Coupon.Status.USED, used_at=now, used_branch=branch, used_reference=reference[:200])
    )
    coupon.refresh_from_db(fields=["status", "used_at", "used_branch", "used_reference"])
    if updated == 1:
        events.emit(events.COUPON_USED, coupon_id=coupon.pk)
        return coupon
    if coupon.status == Coupon.Status.USED:
        raise CouponAlreadyUsed(used_at=coupon.used_at)
    if coupon.status == Coupon.Status.CANCELLED:
        raise CouponCancelled()
    raise CouponExpired()
