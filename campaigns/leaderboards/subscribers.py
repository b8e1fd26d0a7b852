"""Top spender races: domain-event subscribers (registered in ``LeaderboardsConfig.ready``).

Events arrive after the loyalty transaction committed, with ids only. Each queues one task
that counts the event into the races it belongs to (idempotent per event: a redelivery
counts once). A failure to enqueue is logged, never raised into the purchase that committed.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)

COUNTED_POINT_KINDS = {"earn", "reverse"}


@events.subscribe(events.PURCHASE_RECORDED)
def count_purchase(*, purchase_id: int, **_payload) -> None:
    from .tasks import race_purchase_recorded

    try:
        race_purchase_recorded.delay(purchase_id)
    except Exception:  # noqa: BLE001 - the purchase already committed
        log.exception("race standings for purchase %s failed", purchase_id)


@events.subscribe(events.PURCHASE_REFUNDED)
def count_refund(*, refund_id: int, **_payload) -> None:
    from .tasks import race_purchase_refunded

    try:
        race_purchase_refunded.delay(refund_id)
    except Exception:  # noqa: BLE001 - the refund already committed
        log.exception("race standings for refund %s failed", refund_id)


@events.subscribe(events.POINTS_POSTED)
def count_points(*, entry_id: int, kind: str, **_payload) -> None:
    if kind not in COUNTED_POINT_KINDS:
        return
    from .tasks import race_points_posted

    try:
        race_points_posted.delay(entry_id)
    except Exception:  # noqa: BLE001 - the entry already committed
        log.exception("race standings for entry %s failed", entry_id)
