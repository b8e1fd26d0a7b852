"""Segments: domain-event subscribers (registered in ``SegmentsConfig.ready``).

Events arrive in a Celery worker after the loyalty transaction committed, with ids only
(``loyalty.events``, ``in_worker``); each recomputes the member's statistics (idempotent,
so a redelivery is harmless). A failure is retried on its own; the nightly rebuild
repairs the row in any case.
"""

from loyalty import events


@events.subscribe(events.PURCHASE_RECORDED, in_worker=True)
def stats_after_purchase(*, member_id: int, **_payload) -> None:
    from .tasks import refresh_member_stats

    refresh_member_stats(member_id)


@events.subscribe(events.PURCHASE_REFUNDED, in_worker=True)
def stats_after_refund(*, purchase_id: int, **_payload) -> None:
    from .tasks import refresh_member_stats_for_purchase

    refresh_member_stats_for_purchase(purchase_id)
