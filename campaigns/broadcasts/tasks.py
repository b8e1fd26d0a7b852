"""Broadcasts: Celery tasks. Thin: ids in, one service call, safe to run twice.

- ``start_due_broadcasts`` (beat, every minute) starts scheduled broadcasts whose time has
  come; ``start_broadcast`` is also queued with ``eta=send_at`` when one is scheduled (early
  or repeated runs change nothing: the status move decides).
- ``send_broadcast`` sends up to ``BATCHES_PER_TASK`` batches, then queues itself again, so a
  pause takes effect within a few batches and several workers share a broadcast (their
  claims skip each other's locked rows).
"""

from celery import shared_task
from django.utils import timezone

BATCHES_PER_TASK = 20


@shared_task(acks_late=True)
def start_due_broadcasts() -> list[int]:
    from .services import broadcast_start_due

    return broadcast_start_due()


@shared_task(acks_late=True)
def start_broadcast(broadcast_id: int) -> bool:
    from .models import Broadcast
    from .services import broadcast_start_due

    broadcast = Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.SCHEDULED).first()
    if broadcast is None or broadcast.send_at is None or broadcast.send_at > timezone.now():
        return False  # not due yet (an eager run, or the schedule moved): the beat task starts it
    return broadcast_id in broadcast_start_due()


@shared_task(acks_late=True)
def send_broadcast(broadcast_id: int, max_batches: int = BATCHES_PER_TASK) -> int:
    from .services import broadcast_send_run

    result = broadcast_send_run(broadcast_id=broadcast_id, max_batches=max_batches)
    if result.more:
        send_broadcast.delay(broadcast_id, max_batches)
    return result.claimed
