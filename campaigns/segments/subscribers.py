"""Segments: domain-event subscribers (registered in ``SegmentsConfig.ready``).

Events arrive after the loyalty transaction committed, with ids only; each queues one
task that recomputes the member's statistics (idempotent, so a redelivery is harmless).
A failure to enqueue is logged, never raised into the purchase that committed: the
nightly rebuild repairs the row.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)


@events.subscribe(events.PURCHASE_RECORDED)
def stats_after_purchase(*, member_id: int, **_payload) -> None:
    from .tasks import refresh_member_stats

    try:
        refresh_member_stats.delay(member_id)
    except Exception:  # noqa: BLE001 - the purchase already committed
        log.exception("member statistics for member %s failed", member_id)


@events.subscribe(events.PURCHASE_REFUNDED)
def stats_after_refund(*, purchase_id: int, **_payload) -> None:
    from .tasks import refresh_member_stats_for_purchase

    try:
        refresh_member_stats_for_purchase.delay(purchase_id)
    except Exception:  # noqa: BLE001 - the refund already committed
        log.exception("member statistics for purchase %s failed", purchase_id)
