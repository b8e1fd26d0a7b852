"""Celery tasks for point expiry and reminders (issue 7): thin, idempotent per day.

``loyalty`` never imports ``messaging``: the reminder batches are sent by the task
``messaging.tasks.send_expiry_reminders``, enqueued here by name.
"""

import math

from celery import shared_task, signature

SEND_REMINDERS_TASK = "messaging.tasks.send_expiry_reminders"
REMINDER_BATCH = 500


@shared_task(acks_late=True)
def expire_points() -> dict:
    """00:05 Bangkok: expire every lot past due (one expire entry per account)."""
    from .services.expiry import points_expire_due

    return points_expire_due()


@shared_task(acks_late=True)
def remind_expiring_points(batch: int = REMINDER_BATCH) -> int:
    """10:00 Bangkok: create today's reminders, then fan out one send task per batch.

    Each send task claims its own batch (``FOR UPDATE SKIP LOCKED``), so the batches go out
    in parallel on several workers. Returns the number of reminders created.
    """
    from .models import ExpiryReminder
    from .services.expiry import expiry_reminders_create

    created = expiry_reminders_create()
    unsent = ExpiryReminder.objects.filter(sent_at__isnull=True).count()
    for _batch in range(math.ceil(unsent / batch)):
        signature(SEND_REMINDERS_TASK, kwargs={"batch": batch, "max_batches": 1}).delay()
    return created
