"""Top spender races: Celery tasks. Thin, take ids, idempotent (services count each event once)."""

from celery import shared_task


@shared_task(acks_late=True)
def race_purchase_recorded(purchase_id: int) -> int:
    from .services import purchase_count

    return purchase_count(purchase_id=purchase_id)


@shared_task(acks_late=True)
def race_purchase_refunded(refund_id: int) -> int:
    from .services import refund_count

    return refund_count(refund_id=refund_id)


@shared_task(acks_late=True)
def race_points_posted(entry_id: int) -> int:
    from .services import points_entry_count

    return points_entry_count(entry_id=entry_id)


@shared_task(acks_late=True)
def close_due_races() -> list[int]:
    """Every 5 minutes (beat): close the active races whose period ended. Returns the ids closed now."""
    from .services import race_close, races_due

    return [race_id for race_id in races_due() if race_close(race_id=race_id) is not None]
