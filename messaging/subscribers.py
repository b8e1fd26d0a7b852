"""Notifications on LINE for loyalty events (transactional: they go without marketing consent).

Registered in ``MessagingConfig.ready``. Each handler runs after the loyalty transaction
committed and queues one push, deduplicated by the event's own id.
"""

from loyalty import events
from loyalty.models import LedgerEntry, Redemption

from . import flex
from .outbox import message_push


@events.subscribe(events.POINTS_POSTED)
def notify_points_earned(*, entry_id: int, kind: str, **_payload) -> None:
    if kind != LedgerEntry.Kind.EARN:
        return
    entry = (LedgerEntry.objects.select_related("account__member__brand", "purchase__branch")
             .filter(pk=entry_id).first())
    if entry is None or not entry.account.member.line_user_id:
        return
    member = entry.account.member
    branch = entry.purchase.branch.name if entry.purchase and entry.purchase.branch else ""
    template, messages = flex.points_earned(member, points=entry.amount, balance_after=entry.balance_after,
                                            where=branch)
    message_push(member=member, template=template, messages=messages, dedupe_key=f"earned:{entry.pk}")


@events.subscribe(events.REWARD_REDEEMED)
def notify_reward_redeemed(*, redemption_id: int, **_payload) -> None:
    redemption = (Redemption.objects.select_related("member__brand", "coupon__reward")
                  .filter(pk=redemption_id).first())
    if redemption is None or not redemption.member.line_user_id or not hasattr(redemption, "coupon"):
        return
    template, messages = flex.reward_redeemed(redemption.member, redemption.coupon)
    message_push(member=redemption.member, template=template, messages=messages,
                 dedupe_key=f"redeemed:{redemption.pk}")
