"""Sending LINE messages: one service every app uses.

``message_reply`` / ``message_push`` / ``message_multicast`` record what to send (an
``OutboundMessage`` with its deliveries) in the caller's transaction and enqueue delivery
after commit. ``outbound_deliver`` sends it, outside any transaction, with the row's
``retry_key`` as ``X-Line-Retry-Key``: a retry after a timeout or 5xx that LINE had in
fact accepted gets 409, which counts as sent, so nobody receives a push twice.

Recipients who blocked the OA are skipped for every send; for marketing sends, members
without marketing consent are skipped too (``marketing_allowed`` is the hook the consent
app fills). Transactional messages (points earned, redemption done) still go.
"""

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from consent.selectors import marketing_consented_member_ids
from members.models import Brand, Member

from . import client
from .models import MessageDelivery, OutboundMessage
from .tasks import deliver_outbound

logger = logging.getLogger(__name__)

MULTICAST_BATCH = 500
REPLY_TOKEN_MAX_AGE = timedelta(seconds=50)  # LINE's reply tokens die within about a minute
MAX_ATTEMPTS = 6

Kind = OutboundMessage.Kind
Purpose = OutboundMessage.Purpose
Status = OutboundMessage.Status
Delivery = MessageDelivery.Status


def marketing_allowed(brand: Brand, members: Iterable[Member]) -> set[int]:
    """Ids of the members whose current marketing consent is granted (read at send-recording time)."""
    return marketing_consented_member_ids(brand=brand, member_ids=[member.pk for member in members])


def _enqueue(message: OutboundMessage) -> None:
    transaction.on_commit(lambda: deliver_outbound.delay(message.pk))


def _sort_recipients(brand: Brand, members: list[Member], purpose: str) -> tuple[list[Member], list[MessageDelivery]]:
    """Members who can receive this send, and the skipped ones as deliveries saying why."""
    allowed_marketing = marketing_allowed(brand, members) if purpose == Purpose.MARKETING else None
    deliverable, skipped = [], []
    for member in members:
        if not member.line_user_id or not member.line_reachable:
            status = Delivery.SKIPPED_UNREACHABLE
        elif allowed_marketing is not None and member.pk not in allowed_marketing:
            status = Delivery.SKIPPED_NO_CONSENT
        else:
            deliverable.append(member)
            continue
        skipped.append(MessageDelivery(member=member, line_user_id=member.line_user_id or "", status=status))
    return deliverable, skipped


def _record(*, brand: Brand, kind: str, template: str, messages: list[dict], members: list[Member],
            purpose: str, reply_token: str = "", dedupe_key: str | None = None,
            skipped: list[MessageDelivery] | None = None) -> OutboundMessage | None:
    """One OutboundMessage to ``members`` (already deliverable) plus the ``skipped`` records."""
    recipients = [member.line_user_id for member in members]
    deliveries = [MessageDelivery(member=member, line_user_id=member.line_user_id, status=Delivery.PENDING)
                  for member in members] + (skipped or [])
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                brand=brand, kind=kind, purpose=purpose, template=template, reply_token=reply_token,
                recipients=recipients, messages=messages, dedupe_key=dedupe_key,
                status=Status.PENDING if recipients else Status.SKIPPED,
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return OutboundMessage.objects.filter(brand=brand, dedupe_key=dedupe_key).first()
    for delivery in deliveries:
        delivery.message = message
    MessageDelivery.objects.bulk_create(deliveries)
    if recipients:
        _enqueue(message)
    return message


def message_reply(*, member: Member, reply_token: str, template: str, messages: list[dict],
                  event_time=None, dedupe_key: str | None = None) -> OutboundMessage | None:
    """Answer an event: a reply while the token is fresh, else (or if it fails) a push."""
    fresh = event_time is None or timezone.now() - event_time < REPLY_TOKEN_MAX_AGE
    kind = Kind.REPLY if reply_token and fresh else Kind.PUSH
    deliverable, skipped = _sort_recipients(member.brand, [member], Purpose.TRANSACTIONAL)
    return _record(brand=member.brand, kind=kind, template=template, messages=messages, members=deliverable,
                   purpose=Purpose.TRANSACTIONAL, reply_token=reply_token if kind == Kind.REPLY else "",
                   dedupe_key=dedupe_key, skipped=skipped)


def message_push(*, member: Member, template: str, messages: list[dict], purpose: str = Purpose.TRANSACTIONAL,
                 dedupe_key: str | None = None) -> OutboundMessage | None:
    deliverable, skipped = _sort_recipients(member.brand, [member], purpose)
    return _record(brand=member.brand, kind=Kind.PUSH, template=template, messages=messages, members=deliverable,
                   purpose=purpose, dedupe_key=dedupe_key, skipped=skipped)


def message_multicast(*, brand: Brand, members: Iterable[Member], template: str, messages: list[dict],
                      purpose: str = Purpose.MARKETING, dedupe_key: str | None = None) -> list[OutboundMessage]:
    """The same messages to many members, in batches of at most 500 deliverable recipients each.

    Members who cannot receive it are recorded as skipped on the first batch.
    """
    deliverable, skipped = _sort_recipients(brand, list(members), purpose)
    sent = []
    for index in range(0, max(len(deliverable), 1), MULTICAST_BATCH):
        key = f"{dedupe_key}:{index // MULTICAST_BATCH}" if dedupe_key else None
        message = _record(brand=brand, kind=Kind.MULTICAST, template=template, messages=messages,
                          members=deliverable[index:index + MULTICAST_BATCH], purpose=purpose, dedupe_key=key,
                          skipped=skipped if index == 0 else None)
        if message is not None:
            sent.append(message)
    return sent


def message_record_prepared(*, brand: Brand, kind: str, template: str, messages: list[dict],
                            recipients: Sequence[tuple[int, str]], purpose: str, dedupe_key: str,
                            retry_key: uuid.UUID, deliveries: bool = True) -> tuple[OutboundMessage, bool]:
    """Record a push or multicast to ``recipients`` ((member id, LINE user id) pairs) the caller has
    already filtered (reachable; marketing consent read in the caller's transaction), without enqueueing.

    For senders that batch at scale (broadcasts): the deliveries are written with one
    ``INSERT … SELECT unnest(…)``, the ``retry_key`` is the caller's (deterministic, so a
    re-recorded batch keeps it) and the caller delivers with ``outbound_deliver``. Idempotent
    on ``(brand, dedupe_key)``: returns ``(message, created)``. Call inside a transaction.
    ``deliveries=False``: the caller delivers in this same transaction and then writes the
    deliveries once, with their outcome (``message_deliveries_record``).
    """
    if not recipients or (kind == Kind.PUSH and len(recipients) != 1) or len(recipients) > MULTICAST_BATCH:
        raise ValueError(f"a {kind} takes 1 (push) or 1-{MULTICAST_BATCH} (multicast) recipients")
    existing = OutboundMessage.objects.filter(brand=brand, dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    message = OutboundMessage.objects.create(
        brand=brand, kind=kind, purpose=purpose, template=template, recipients=[uid for _, uid in recipients],
        messages=messages, dedupe_key=dedupe_key, retry_key=retry_key, status=Status.PENDING,
    )
    if deliveries:
        message_deliveries_record(message=message, recipients=recipients, status=Delivery.PENDING)
    return message, True


def message_deliveries_record(*, message: OutboundMessage, recipients: Sequence[tuple[int, str]], status: str,
                              error: str = "") -> None:
    """One ``INSERT … SELECT unnest(…)`` of a message's per-recipient deliveries in ``status``."""
    table = MessageDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, member_id, line_user_id, status, error, updated_at) "  # noqa: S608
            "SELECT %s, member_id, line_user_id, %s, %s, now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS r(member_id, line_user_id)",
            [message.pk, status, error[:2000], [pk for pk, _ in recipients], [uid for _, uid in recipients]],
        )


def _finish(message: OutboundMessage, *, status: str, delivery_status: str, request_id: str = "",
            error: str = "") -> None:
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=status, line_request_id=request_id[:64], last_error=error[:2000],
            sent_at=timezone.now() if status == Status.SENT else None, kind=message.kind,
        )
        message.deliveries.filter(status=Delivery.PENDING).update(status=delivery_status, error=error[:2000])
    message.status = status


def outbound_deliver(*, message_id: int) -> OutboundMessage:
    """Send one recorded message. Idempotent: a sent or failed message is not sent again.

    Raises ``client.LineError`` with ``transient=True`` for 429/5xx/network errors (the
    caller retries with backoff under the same retry key); permanent errors are recorded
    on the message and its deliveries.
    """
    message = OutboundMessage.objects.select_related("brand").get(pk=message_id)
    if message.status != Status.PENDING:
        return message
    brand = message.brand
    if not brand.line_channel_access_token:
        _finish(message, status=Status.SKIPPED, delivery_status=Delivery.FAILED,
                error="The brand has no LINE channel access token")
        return message
    OutboundMessage.objects.filter(pk=message.pk).update(attempts=message.attempts + 1)
    retry_key = str(message.retry_key)
    try:
        if message.kind == Kind.REPLY:
            try:
                result = client.send_reply(brand, reply_token=message.reply_token, messages=message.messages)
            except client.LineError as error:
                if error.transient or error.status != 400:
                    raise
                # The reply token expired or was used: fall back to a push with a retry key.
                message.kind = Kind.PUSH
                OutboundMessage.objects.filter(pk=message.pk).update(kind=Kind.PUSH)
                result = client.send_push(brand, to=message.recipients[0], messages=message.messages,
                                          retry_key=retry_key)
        elif message.kind == Kind.PUSH:
            result = client.send_push(brand, to=message.recipients[0], messages=message.messages,
                                      retry_key=retry_key)
        else:
            result = client.send_multicast(brand, to=message.recipients, messages=message.messages,
                                           retry_key=retry_key)
    except client.LineError as error:
        if error.transient and message.attempts + 1 < MAX_ATTEMPTS:
            OutboundMessage.objects.filter(pk=message.pk).update(last_error=str(error)[:2000])
            raise
        logger.warning("LINE send %s failed: %s %s", message.pk, error, error.body[:200])
        _finish(message, status=Status.FAILED, delivery_status=Delivery.FAILED, error=f"{error} {error.body}")
        return message
    _finish(message, status=Status.SENT, delivery_status=Delivery.SENT, request_id=result.request_id)
    return message
