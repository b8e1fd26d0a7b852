"""Notifications on LINE for loyalty events (transactional: they go without marketing consent).

Registered in ``MessagingConfig.ready``. Each handler runs after the loyalty transaction
committed and queues one push, deduplicated by the event's own id.
"""


from celery import shared_task
from django.db import transaction

from loyalty import events
from loyalty import selectors as loyalty_selectors
from loyalty.models import LedgerEntry, Redemption, TierChange
from loyalty.services import tiers as tier_rules  # also registers the upgrade-on-purchase subscriber

from . import flex
from .outbox import message_push
from .tasks import link_rich_menu

TIER_NOTIFY_BATCH = 500


@events.subscribe(events.POINTS_POSTED, in_worker=True, when=lambda event: event["kind"] == LedgerEntry.Kind.EARN)
def notify_points_earned(*, entry_id: int, **_payload) -> None:
    """Earned points are announced from the worker: the outbox rows are not written in the request
    that earned (the push is deduplicated by the entry id, so a redelivered event sends once)."""
    notify_points_earned_task(entry_id)


@shared_task(acks_late=True)
def notify_points_earned_task(entry_id: int) -> None:
    entry = (LedgerEntry.objects.select_related("account__member__brand", "purchase__branch")
             .filter(pk=entry_id).first())
    if entry is None or not entry.account.member.line_user_id:
        return
    if entry.channel == LedgerEntry.Channel.CAMPAIGN:
        return  # missions, draws and races announce their own prizes
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


from loyalty.receipts.events import RECEIPT_DECIDED  # noqa: E402 - the receipts app's own event


@events.subscribe(RECEIPT_DECIDED)
def notify_receipt_decided(*, receipt_id: int, status: str, **_payload) -> None:
    """Tell the member their receipt was approved or rejected (once per receipt and outcome)."""
    from loyalty.receipts.models import Receipt

    receipt = (Receipt.objects.select_related("member__brand", "purchase", "store")
               .filter(pk=receipt_id, status=status).first())
    if receipt is None or not receipt.member.line_user_id:
        return
    template, messages = flex.receipt_decided(receipt.member, receipt)
    message_push(member=receipt.member, template=template, messages=messages,
                 dedupe_key=f"receipt:{receipt.pk}:{status}")


# --- tiers -----------------------------------------------------------------------------------


def tier_change_notify(change: TierChange):
    """Tell the member about an upgrade, downgrade, lapse or a staff change of tier, once per change.

    The push is deduplicated by ``tier:{change id}``; the member's rich menu is relinked
    after commit (a tier may have a menu of its own). Renewals and grace notices are silent.
    """
    changed_tier = change.from_tier_id != change.to_tier_id
    if change.kind not in tier_rules.NOTIFY_KINDS and not (change.kind == TierChange.Kind.OVERRIDE and changed_tier):
        return None
    member = change.member
    if changed_tier:
        transaction.on_commit(lambda: link_rich_menu.delay(member.pk))
    if not member.line_user_id:
        return None
    template, messages = flex.tier_changed(member, kind=change.kind, old_tier=change.from_tier,
                                           new_tier=change.to_tier,
                                           status=loyalty_selectors.member_tier_status(member=member))
    return message_push(member=member, template=template, messages=messages, dedupe_key=f"tier:{change.pk}")


@events.subscribe(tier_rules.TIER_CHANGED)
def notify_tier_changed(*, tier_change_id: int, **_payload) -> None:
    change = (TierChange.objects.select_related("member__brand", "from_tier", "to_tier")
              .filter(pk=tier_change_id).first())
    if change is not None:
        tier_change_notify(change)


@events.subscribe(tier_rules.TIERS_REVIEWED)
def notify_tiers_reviewed(*, brand_id: int, run_key: str, **_payload) -> None:
    """A review run committed: its messages go out from a task, in batches (not in the SQL job)."""
    notify_tier_changes.delay(brand_id, run_key, 0)


@shared_task(bind=True, acks_late=True)
def notify_tier_changes(self, brand_id: int, run_key: str, after_id: int = 0) -> int:
    """Notify the run's changes with ids after ``after_id``, one batch of 500, then queue the next.

    Safe to retry: each push is deduplicated by its change id. Without a broker the batches
    run one after another in this call. Returns how many changes this call handled.
    """
    handled = 0
    while True:
        batch = list(tier_rules.review_changes_to_notify(brand_id=brand_id, run_key=run_key, after_id=after_id,
                                                         limit=TIER_NOTIFY_BATCH))
        for change in batch:
            tier_change_notify(change)
        handled += len(batch)
        if len(batch) < TIER_NOTIFY_BATCH:
            return handled
        after_id = batch[-1].pk
        if not self.request.is_eager:
            notify_tier_changes.delay(brand_id, run_key, after_id)
            return handled
