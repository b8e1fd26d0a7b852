"""Reads for the loyalty domain. Each selector takes the brand so scoping cannot be forgotten."""

from datetime import timedelta

from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from members.models import Brand, Member

from .models import Coupon, LedgerEntry, PointAccount, PointLot, Purchase, Reward


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
        Reward.objects.filter(brand=brand, is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .select_related("currency")
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
