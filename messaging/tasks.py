"""Celery tasks: thin, idempotent, retried with backoff on transient LINE errors only.

The services import these tasks to enqueue them, so the tasks import the services
inside their bodies.
"""

import time

from celery import shared_task

from . import client

EAGER_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 2.0)


@shared_task(bind=True, acks_late=True, max_retries=8)
def deliver_outbound(self, message_id: int) -> None:
    from .outbox import outbound_deliver

    if self.request.is_eager:
        # No broker to schedule a later attempt: retry in-process with a short backoff,
        # under the same retry key (outbound_deliver marks the message failed after its last attempt).
        for pause in (*EAGER_BACKOFF_SECONDS, None):
            try:
                outbound_deliver(message_id=message_id)
                return
            except client.LineError as error:
                if not error.transient or pause is None:
                    raise
                time.sleep(pause)
    try:
        outbound_deliver(message_id=message_id)
    except client.LineError as error:
        if not error.transient:
            raise
        raise self.retry(exc=error, countdown=min(2 ** self.request.retries, 60)) from error


@shared_task(acks_late=True)
def process_line_events(event_ids: list[int]) -> None:
    """Process the events of one webhook request, in order; each at most once (row status)."""
    from .events import line_event_process

    for event_id in event_ids:
        line_event_process(event_id=event_id)


@shared_task(acks_late=True)
def sweep_line_events(older_than_seconds: int = 60, limit: int = 5000) -> int:
    """Queue the events still ``received`` ``older_than_seconds`` after they arrived: their task was
    lost (the broker was down when the webhook committed, or a worker died). Processing is
    exactly-once (row lock, status check), so racing a late task changes nothing."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import LineWebhookEvent

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(LineWebhookEvent.objects.filter(status=LineWebhookEvent.Status.RECEIVED, received_at__lte=cutoff)
               .order_by("pk").values_list("pk", flat=True)[:limit])
    for start in range(0, len(ids), 100):
        process_line_events.delay(ids[start:start + 100])
    return len(ids)


@shared_task(acks_late=True)
def send_expiry_reminders(batch: int = 500, max_batches: int | None = None) -> int:
    """Push unsent expiry reminders (``loyalty.expiry_tasks.remind_expiring_points`` fans these out)."""
    from .reminders import expiry_reminders_send

    return expiry_reminders_send(batch=batch, max_batches=max_batches)


@shared_task(acks_late=True)
def link_rich_menu(member_id: int) -> None:
    from .rich_menus import rich_menu_link_member

    rich_menu_link_member(member_id=member_id)
