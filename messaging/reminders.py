"""Sending the expiry reminders on LINE, in batches.

``loyalty.services.expiry.expiry_reminders_create`` inserts the reminders (one per
account and expiry day); this module pushes the unsent ones. Reminders are transactional:
they go without marketing consent (members who blocked the OA are skipped by the outbox).
"""

from django.db import transaction
from django.utils import timezone

from loyalty.models import ExpiryReminder

from . import flex
from .outbox import message_push

BATCH = 500


def reminder_dedupe_key(reminder: ExpiryReminder) -> str:
    return f"expiring:{reminder.account_id}:{reminder.expires_on.isoformat()}"


def expiry_reminders_send(*, batch: int = BATCH, max_batches: int | None = None) -> int:
    """Push every unsent reminder, ``batch`` at a time; returns the number marked sent.

    Each batch is one transaction that claims its reminders with ``FOR UPDATE SKIP
    LOCKED`` (so several workers can send in parallel without sharing a reminder), records
    one push per reminder (``message_push`` with ``dedupe_key``
    ``expiring:{account}:{expires_on}``, the key the outbox refuses twice) and sets
    ``sent_at``. The LINE call itself happens after commit (outbox ``on_commit``), never
    under the lock. A reminder whose points expired before it was sent stays unsent. Idempotent: a sent reminder is never claimed again, and a reminder
    whose mark was lost is deduplicated by the outbox.
    """
    sent = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            claimed = list(
                ExpiryReminder.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(sent_at__isnull=True, expires_at__gt=timezone.now()).select_related("member__brand").order_by("id")[:batch]
            )
            if not claimed:
                break
            for reminder in claimed:
                template, messages = flex.points_expiring(reminder.member, points=reminder.points,
                                                          expires_at=reminder.expires_at)
                message_push(member=reminder.member, template=template, messages=messages,
                             dedupe_key=reminder_dedupe_key(reminder))
            ExpiryReminder.objects.filter(pk__in=[reminder.pk for reminder in claimed]).update(
                sent_at=timezone.now())
        sent += len(claimed)
        batches += 1
    return sent


def expiry_reminders_unsent() -> int:
    return ExpiryReminder.objects.filter(sent_at__isnull=True).count()
