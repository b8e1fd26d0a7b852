"""Moving a member's points to another member (a pending phone membership merged on registration).

Each open lot of the source moves as a pair of ``transfer`` entries (out of the source lot,
into a new lot of the target with the *same expiry*), keyed ``merge:{source}:{lot}:out|in``,
so running it again moves nothing more. Both accounts are locked in primary-key order.
"""

from django.db import transaction

from loyalty.models import LedgerEntry, PointAccount, PointLot, Purchase, Redemption
from loyalty.models.rewards import Coupon

from .ledger import Channel, Kind, Source, account_get_or_create, accounts_lock, lots_expire_due, points_post


@transaction.atomic
def points_merge_member(*, source, target) -> list[LedgerEntry]:
    """Move every point, purchase, redemption and coupon of ``source`` to ``target`` (same brand)."""
    if source.brand_id != target.brand_id or source.pk == target.pk:
        raise ValueError("a merge needs two different members of one brand")
    moved = []
    for source_account in PointAccount.objects.filter(member=source).select_related("currency").order_by("pk"):
        target_account = account_get_or_create(member=target, currency=source_account.currency)
        locked = accounts_lock([source_account.pk, target_account.pk])
        lots_expire_due(locked[source_account.pk])
        lots = PointLot.objects.filter(account=source_account, remaining__gt=0).order_by("expires_at", "pk")
        for lot in lots:
            reason = f"merged from member {source.code}"
            out = points_post(account=locked[source_account.pk], amount=-lot.remaining, kind=Kind.TRANSFER,
                              idempotency_key=f"merge:{source.pk}:{lot.pk}:out",
                              source=Source(channel=Channel.SYSTEM, reason=reason), prefer_lot=lot)
            moved.append(out)
            moved.append(points_post(account=locked[target_account.pk], amount=-out.amount, kind=Kind.TRANSFER,
                                     idempotency_key=f"merge:{source.pk}:{lot.pk}:in",
                                     source=Source(channel=Channel.SYSTEM, reason=reason, reverses=out),
                                     expires_at=lot.expires_at))
    Purchase.objects.filter(member=source).update(member=target)
    Redemption.objects.filter(member=source).update(member=target)
    Coupon.objects.filter(member=source).update(member=target)
    return moved
