"""Reads for the loyalty domain. Each selector takes the brand so scoping cannot be forgotten."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from members.models import Brand, Member

from .models import LedgerEntry, PointAccount, Purchase, Reward


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
        .select_related("account__currency", "purchase", "redemption__reward")
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
