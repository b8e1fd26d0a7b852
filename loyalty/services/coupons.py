"""Coupons given without spending points: campaign prizes, coupon promotions, welcome gifts.

``coupon_issue`` is idempotent on ``(brand, key)`` (a unique constraint decides races):
the second call returns the first coupon. Stock, when the reward has one, is taken by the
same conditional ``UPDATE ... WHERE stock > 0`` as a redemption, so campaigns and points
redemptions never oversell together.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from loyalty import events
from loyalty.errors import RewardOutOfStock
from loyalty.models import Coupon, Reward
from members.models import Member

from .redemption import _coupon_expiry

COUPON_ISSUED = events.COUPON_ISSUED


@dataclass(frozen=True)
class IssueResult:
    coupon: Coupon
    created: bool


def coupon_issue(*, member: Member, reward: Reward, key: str, take_stock: bool = True,
                 now: datetime | None = None) -> IssueResult:
    """Give ``member`` a coupon of ``reward`` once per ``key`` (e.g. ``mission:3:41:1``).

    The reward must be of the member's brand. With ``take_stock`` a limited reward's stock
    falls by one (``RewardOutOfStock`` when none is left, nothing written). The coupon is
    valid for the reward's ``coupon_valid_days`` (Bangkok days). Emits ``coupon_issued``.
    """
    if reward.brand_id != member.brand_id:
        raise ValueError(f"reward {reward.pk} belongs to another brand than member {member.pk}")
    now = now or timezone.now()
    existing = Coupon.objects.filter(brand_id=member.brand_id, issue_key=key).first()
    if existing is not None:
        return IssueResult(existing, created=False)
    try:
        with transaction.atomic():
            if take_stock and reward.stock is not None:
                taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
                if not taken:
                    raise RewardOutOfStock()
            coupon = Coupon.objects.create(brand_id=member.brand_id, member=member, reward=reward, issue_key=key,
                                           expires_at=_coupon_expiry(reward, now))
            events.emit(COUPON_ISSUED, coupon_id=coupon.pk, member_id=member.pk, key=key)
    except IntegrityError:
        existing = Coupon.objects.filter(brand_id=member.brand_id, issue_key=key).first()
        if existing is None:
            raise
        return IssueResult(existing, created=False)
    return IssueResult(coupon, created=True)
