"""Top spender races: domain-event subscribers (registered in ``LeaderboardsConfig.ready``).

Events arrive in a Celery worker after the loyalty transaction committed, with ids only
(``loyalty.events``, ``in_worker``). Each counts the event into the races it belongs to
(idempotent per event: a redelivery counts once); a failure is retried on its own.
"""

from loyalty import events

COUNTED_POINT_KINDS = {"earn", "reverse"}


@events.subscribe(events.PURCHASE_RECORDED, in_worker=True)
def count_purchase(*, purchase_id: int, **_payload) -> None:
    from .tasks import race_purchase_recorded

    race_purchase_recorded(purchase_id)


@events.subscribe(events.PURCHASE_REFUNDED, in_worker=True)
def count_refund(*, refund_id: int, **_payload) -> None:
    from .tasks import race_purchase_refunded

    race_purchase_refunded(refund_id)


@events.subscribe(events.POINTS_POSTED, in_worker=True, when=lambda event: event["kind"] in COUNTED_POINT_KINDS)
def count_points(*, entry_id: int, **_payload) -> None:
    from .tasks import race_points_posted

    race_points_posted(entry_id)
