"""Sending broadcasts: schedule, start (materialise recipients), send in batches, pause, resume, recover.

Contracts
- ``broadcast_start`` moves the status to *sending* with a conditional UPDATE and, in the
  same transaction, writes one ``BroadcastRecipient`` per member of the segment with one
  ``INSERT … SELECT`` (pending, holdout, or skipped with the reason). Batch tasks are
  queued after commit.
- ``broadcast_start`` also cuts the pending rows into batches (id ranges of ≤ 500 rows).
  ``broadcast_send_batch`` claims one with ``SELECT … FOR UPDATE SKIP LOCKED`` (so any
  number of workers share the work), marks it claimed, locks its pending rows, re-reads marketing consent for exactly
  those members (a withdrawal committed before the batch excludes the member), issues the
  coupons (``coupon_issue``, key ``broadcast:{id}:{member}``), renders each member's message
  and groups identical ones: a group becomes one multicast (≤ 500), a single member a push,
  recorded in ``messaging.outbox`` with a deterministic retry key.
- Without a coupon (the common, fast path) the LINE groups are delivered inside the claiming
  transaction and every row and delivery is written once, with its outcome: a crash before
  the commit rolls the batch back to pending, and the batch claimed again gets the same keys
  (batch number and message content; a push: the member), so LINE answers 409 to anything it
  had already accepted. With a coupon the codes must exist before any message shows them:
  the rows are marked *queued* and bound to their message (retry key from the broadcast and
  the group's first row) in the claiming transaction, and LINE is called after the commit.
- A queued batch, once committed, is never re-formed: a retry or a crash recovery delivers the
  same ``OutboundMessage`` with the same ``X-Line-Retry-Key``, which LINE answers 409 if it
  had already accepted it, so nobody receives a broadcast twice. SMS and e-mail have no
  retry key: a row queued for them and left by a crashed worker is marked failed rather
  than sent again (at most once).
- Pausing stops new claims (a batch already claimed finishes); resuming queues the tasks
  again. A crashed or killed worker leaves pending rows (claimed in a transaction that
  rolled back) or queued rows (``broadcast_recover`` delivers or settles them).
"""

import hashlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.selectors import marketing_consented_member_ids
from loyalty.errors import RewardOutOfStock
from loyalty.services.coupons import coupon_issue
from members.models import Member
from members.sms import sms_send
from messaging import client
from messaging.models import MessageDelivery, OutboundMessage
from messaging.outbox import (
    message_deliveries_record,
    message_push,
    message_record_prepared,
    outbound_deliver,
)

from . import rendering
from .errors import BroadcastInvalid, BroadcastStateInvalid, TestSendTargetMissing
from .models import Broadcast, BroadcastBatch, BroadcastRecipient
from .selectors import audience_queryset

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # LINE's multicast maximum
RECOVERY_LEASE = timedelta(minutes=2)  # a queued row this old has lost its worker
BACKOFF_SECONDS = (0.5, 1, 2, 4, 8, 16)
RETRY_KEY_NAMESPACE = uuid.UUID("6f1d4c1e-6f35-4b8e-9d0b-3b7f0c6a2b10")
TEMPLATE = "broadcast"

Status = Broadcast.Status
Recipient = BroadcastRecipient.Status
Delivery = MessageDelivery.Status
Channel = BroadcastRecipient.Channel
EDITABLE = (Status.DRAFT, Status.SCHEDULED)


def retry_key_for(brand_id: int, dedupe_key: str) -> uuid.UUID:
    """The batch's X-Line-Retry-Key: the same batch always travels with the same key."""
    return uuid.uuid5(RETRY_KEY_NAMESPACE, f"{brand_id}:{dedupe_key}")


# --- checks and status moves ----------------------------------------------------------------------


def broadcast_check(*, broadcast: Broadcast) -> None:
    """Raise ``BroadcastInvalid`` unless the broadcast can be sent as configured."""
    problems = {}
    if broadcast.segment.brand_id != broadcast.brand_id:
        problems["segment"] = _("The segment must belong to the broadcast's brand.")
    if broadcast.coupon_reward_id and broadcast.coupon_reward.brand_id != broadcast.brand_id:
        problems["coupon_reward"] = _("The coupon must belong to the broadcast's brand.")
    if not broadcast.text_th.strip():
        problems["text_th"] = _("Write the message text.")
    if broadcast.button_target == Broadcast.ButtonTarget.URL and not broadcast.button_url:
        problems["button_url"] = _("Enter the address the button opens.")
    if broadcast.button_target and not broadcast.button_label_th:
        problems["button_label_th"] = _("Enter the button label.")
    if problems:
        raise BroadcastInvalid(fields=problems)


def _move(broadcast: Broadcast, *, allowed: tuple, to: str, **fields) -> Broadcast:
    """Conditional UPDATE: the status moves only from one of ``allowed`` (else ``BroadcastStateInvalid``)."""
    moved = Broadcast.objects.filter(pk=broadcast.pk, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **fields)
    if not moved:
        raise BroadcastStateInvalid()
    broadcast.refresh_from_db()
    return broadcast


def _queue_senders(broadcast_id: int) -> None:
    from .tasks import send_broadcast

    parallel = getattr(settings, "BROADCAST_PARALLEL_TASKS", 2)
    transaction.on_commit(lambda: [send_broadcast.delay(broadcast_id) for _ in range(parallel)])


@transaction.atomic
def broadcast_schedule(*, broadcast: Broadcast, send_at: datetime) -> Broadcast:
    """Draft (or scheduled) → scheduled for ``send_at``; the start task is queued for then (and the
    beat task ``start_due_broadcasts`` is the safety net)."""
    broadcast_check(broadcast=broadcast)
    broadcast = _move(broadcast, allowed=EDITABLE, to=Status.SCHEDULED, send_at=send_at)
    from .tasks import start_broadcast

    transaction.on_commit(lambda: start_broadcast.apply_async((broadcast.pk,), eta=send_at))
    return broadcast


def recipients_materialise(*, broadcast: Broadcast, now: datetime) -> int:
    """One ``INSERT … SELECT`` of the audience into recipients (ON CONFLICT DO NOTHING); returns rows written."""
    members = audience_queryset(broadcast).values_list("pk", "recipient_status", "recipient_channel")
    sql, params = members.query.sql_with_params()
    table = BroadcastRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (broadcast_id, member_id, status, channel, error, updated_at) "  # noqa: S608
            f"SELECT %s, audience.member_id, audience.status, audience.channel, '', %s "
            f"FROM ({sql}) AS audience(member_id, status, channel) "
            f"ON CONFLICT (broadcast_id, member_id) DO NOTHING",
            [broadcast.pk, now, *params],
        )
        return cursor.rowcount


def batches_cut(*, broadcast: Broadcast, size: int = BATCH_SIZE) -> int:
    """Cut the pending recipients into id ranges of at most ``size`` rows (one INSERT … SELECT)."""
    recipients, batches = BroadcastRecipient._meta.db_table, BroadcastBatch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {batches} (broadcast_id, number, first_id, last_id, status) "  # noqa: S608
            "SELECT %s, n, MIN(id), MAX(id), 'pending' FROM ("
            f"  SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS n FROM {recipients} "
            "  WHERE broadcast_id = %s AND status = 'pending') AS numbered GROUP BY n",
            [broadcast.pk, size, broadcast.pk],
        )
        return cursor.rowcount


@transaction.atomic
def broadcast_start(*, broadcast: Broadcast, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Draft or scheduled → sending: materialise the recipients, cut them into batches, queue the tasks.

    Returns the number of recipient rows (the whole segment: to send, holdout and skipped).
    """
    now = now or timezone.now()
    broadcast_check(broadcast=broadcast)
    broadcast = _move(broadcast, allowed=EDITABLE, to=Status.SENDING, started_at=now)
    count = recipients_materialise(broadcast=broadcast, now=now)
    batches_cut(broadcast=broadcast, size=min(batch_size, BATCH_SIZE))
    _queue_senders(broadcast.pk)
    return count


def broadcast_start_due(*, now: datetime | None = None) -> list[int]:
    """Start every scheduled broadcast whose time has come (idempotent: the status move decides)."""
    now = now or timezone.now()
    started = []
    for broadcast in Broadcast.objects.filter(status=Status.SCHEDULED, send_at__lte=now).order_by("send_at"):
        try:
            broadcast_start(broadcast=broadcast, now=now)
        except (BroadcastStateInvalid, BroadcastInvalid) as error:
            logger.warning("broadcast %s not started: %s", broadcast.pk, error)
        else:
            started.append(broadcast.pk)
    return started


def broadcast_pause(*, broadcast: Broadcast) -> Broadcast:
    """Sending → paused: no new batch is claimed (one already claimed finishes)."""
    return _move(broadcast, allowed=(Status.SENDING,), to=Status.PAUSED)


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast) -> Broadcast:
    """Paused → sending; the batch tasks are queued again and carry on with the pending rows."""
    broadcast = _move(broadcast, allowed=(Status.PAUSED,), to=Status.SENDING)
    _queue_senders(broadcast.pk)
    return broadcast


def broadcast_cancel(*, broadcast: Broadcast) -> Broadcast:
    """Draft, scheduled or paused → cancelled. Rows not sent yet stay pending, never sent."""
    return _move(broadcast, allowed=(Status.DRAFT, Status.SCHEDULED, Status.PAUSED), to=Status.CANCELLED)


# --- sending --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """A claimed recipient row and the member fields sending needs (no model instances on the hot path)."""

    pk: int
    member_id: int
    channel: str
    status: str
    line_user_id: str | None
    language: str
    member_values: tuple
    message_id: int | None = None
    coupon_id: int | None = None
    error: str = ""
    _member: Member | None = None

    @property
    def member(self) -> Member:
        """The member as a (read-only) model instance, built only when a coupon or personalisation needs it."""
        if self._member is None:
            self._member = Member(**dict(zip(MEMBER_FIELDS, self.member_values, strict=True)))
        return self._member


MEMBER_FIELDS = ("id", "brand_id", "code", "line_user_id", "phone", "email", "first_name", "last_name",
                 "display_name", "language", "status")


@dataclass
class Claimed:
    """What one committed batch must now deliver."""

    broadcast: Broadcast
    message_ids: list[int]
    direct: list[Row]  # SMS and e-mail rows
    claimed: int


def _update_rows(rows: list[Row], now: datetime) -> None:
    """Write each row's status, message, coupon and error with one UPDATE … FROM unnest(…)."""
    if not rows:
        return
    table = BroadcastRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS r SET status = u.status, message_id = u.message_id, coupon_id = u.coupon_id, "  # noqa: S608
            "error = u.error, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[], %s::text[]) "
            "AS u(id, status, message_id, coupon_id, error) WHERE r.id = u.id",
            [now, [r.pk for r in rows], [r.status for r in rows], [r.message_id for r in rows],
             [r.coupon_id for r in rows], [r.error for r in rows]],
        )


def _lock_rows(broadcast_id: int, batch: BroadcastBatch) -> list[Row]:
    """The batch's pending rows, locked (FOR UPDATE OF the recipient rows only), with their members' fields."""
    values = (BroadcastRecipient.objects.select_for_update(of=("self",))
              .filter(broadcast_id=broadcast_id, id__gte=batch.first_id, id__lte=batch.last_id,
                      status=Recipient.PENDING).order_by("id")
              .values_list("id", "channel", "status", *(f"member__{name}" for name in MEMBER_FIELDS)))
    return [Row(pk=row[0], member_id=row[3], channel=row[1], status=row[2], line_user_id=row[6],
                language=row[12], member_values=row[3:]) for row in values]


def _claim(broadcast_id: int) -> Claimed | None:
    """Claim a batch, check consent, issue coupons, record messages; one transaction (see the module contract).

    None when the broadcast is not sending or no batch is left to claim.
    """
    now = timezone.now()
    with transaction.atomic():
        broadcast = (Broadcast.objects.select_related("brand", "coupon_reward", "segment")
                     .filter(pk=broadcast_id).first())
        if broadcast is None or broadcast.status != Status.SENDING:
            return None
        batch = (BroadcastBatch.objects.select_for_update(skip_locked=True)
                 .filter(broadcast_id=broadcast_id, status=BroadcastBatch.Status.PENDING).order_by("number").first())
        if batch is None:
            return None
        BroadcastBatch.objects.filter(pk=batch.pk).update(status=BroadcastBatch.Status.DONE)
        rows = _lock_rows(broadcast_id, batch)
        if not rows:
            return Claimed(broadcast, [], [], 0)
        allowed = marketing_consented_member_ids(brand=broadcast.brand, member_ids=[r.member_id for r in rows])
        going = []
        for row in rows:
            if row.member_id in allowed:
                going.append(row)
            else:
                row.status, row.error = Recipient.SKIPPED_NO_CONSENT, "consent withdrawn before sending"
        coupons = {}
        if broadcast.coupon_reward_id:
            for row in list(going):
                try:
                    result = coupon_issue(member=row.member, reward=broadcast.coupon_reward,
                                          key=f"broadcast:{broadcast.pk}:{row.member_id}", now=now)
                except RewardOutOfStock:
                    row.status, row.error = Recipient.SKIPPED_NO_COUPON, "coupon out of stock"
                    going.remove(row)
                    continue
                row.coupon_id = result.coupon.pk
                coupons[row.member_id] = result.coupon
        line_rows = [r for r in going if r.channel == Channel.LINE]
        if broadcast.coupon_reward_id:
            message_ids = _record_line(broadcast, line_rows, coupons)
        else:
            _send_line_now(broadcast, batch.number, line_rows)
            message_ids = []
        direct = [r for r in going if r.channel != Channel.LINE]
        for row in direct:
            row.status = Recipient.QUEUED
        _update_rows(rows, now)
    return Claimed(broadcast, message_ids, direct, len(rows))


def _render_groups(broadcast: Broadcast, rows: list[Row], coupons: dict) -> list[tuple[list[dict], list[Row]]]:
    """Rows grouped by the messages they get. Without member placeholders or a coupon: one render per language."""
    groups: dict[str, tuple[list[dict], list[Row]]] = {}
    if not rendering.is_personalised(broadcast):
        by_language: dict[str, list[Row]] = {}
        for row in rows:
            by_language.setdefault(row.language if row.language in ("th", "en") else "th", []).append(row)
        for language, members in by_language.items():
            messages = rendering.line_messages(broadcast, rendering.brand_context(broadcast, language))
            groups.setdefault(rendering.content_key(messages), (messages, []))[1].extend(members)
        return list(groups.values())
    contexts = rendering.member_contexts(broadcast, [row.member for row in rows], coupons)
    for row in rows:
        messages = rendering.line_messages(broadcast, contexts[row.member_id])
        groups.setdefault(rendering.content_key(messages), (messages, []))[1].append(row)
    return list(groups.values())


def _record_message(broadcast: Broadcast, *, kind: str, messages: list[dict], rows: list[Row], dedupe_key: str,
                    deliveries: bool = True) -> OutboundMessage:
    """The outbox message (marketing) of one group of rows, its retry key derived from ``dedupe_key``."""
    message, _created = message_record_prepared(
        brand=broadcast.brand, kind=kind, template=f"{TEMPLATE}:{broadcast.pk}", messages=messages,
        recipients=[(row.member_id, row.line_user_id) for row in rows], purpose=OutboundMessage.Purpose.MARKETING,
        dedupe_key=dedupe_key, retry_key=retry_key_for(broadcast.brand_id, dedupe_key), deliveries=deliveries,
    )
    return message


def _record_line(broadcast: Broadcast, rows: list[Row], coupons: dict) -> list[int]:
    """One outbox message per group of identical messages (multicast), or per member (push)."""
    if not rows:
        return []
    message_ids = []
    for messages, members in _render_groups(broadcast, rows, coupons):
        kind = OutboundMessage.Kind.MULTICAST if len(members) > 1 else OutboundMessage.Kind.PUSH
        message = _record_message(broadcast, kind=kind, messages=messages, rows=members,
                                  dedupe_key=f"broadcast:{broadcast.pk}:{members[0].pk}:{len(members)}")
        for row in members:
            row.status, row.message_id = Recipient.QUEUED, message.pk
        message_ids.append(message.pk)
    return message_ids


def _send_line_now(broadcast: Broadcast, batch_number: int, rows: list[Row]) -> None:
    """Record, deliver and settle a coupon-less batch's LINE rows inside the claiming transaction.

    Each row and delivery is written once, with its outcome. A crash before the commit rolls
    the whole batch back to pending; the batch claimed again renders the same messages under
    the same keys (batch number and content; a push: the member), so LINE answers 409 to
    what it had already accepted and nobody receives the broadcast twice.
    """
    for messages, members in _render_groups(broadcast, rows, {}):
        if len(members) == 1:
            kind, dedupe_key = OutboundMessage.Kind.PUSH, f"broadcast:{broadcast.pk}:m{members[0].member_id}"
        else:
            digest = hashlib.sha256(rendering.content_key(messages).encode()).hexdigest()[:24]
            kind, dedupe_key = OutboundMessage.Kind.MULTICAST, f"broadcast:{broadcast.pk}:b{batch_number}:{digest}"
        message = _record_message(broadcast, kind=kind, messages=messages, rows=members, dedupe_key=dedupe_key,
                                  deliveries=False)
        status, error = _deliver_message(message.pk)
        sent = status == OutboundMessage.Status.SENT
        message_deliveries_record(message=message, recipients=[(row.member_id, row.line_user_id) for row in members],
                                  status=Delivery.SENT if sent else Delivery.FAILED, error="" if sent else error)
        for row in members:
            row.message_id = message.pk
            row.status, row.error = (Recipient.SENT, "") if sent else (Recipient.FAILED, (error or status)[:2000])


def _deliver_message(message_id: int) -> tuple[str, str]:
    """Deliver one recorded message, backing off on 429/5xx under the same retry key; its final status and error."""
    for pause in (*BACKOFF_SECONDS, None):
        try:
            message = outbound_deliver(message_id=message_id)
            if message.status == OutboundMessage.Status.SENT:
                return message.status, ""
            return tuple(OutboundMessage.objects.values_list("status", "last_error").get(pk=message_id))
        except client.LineError as error:
            if not error.transient or pause is None:
                logger.warning("broadcast message %s: %s", message_id, error)
                return tuple(OutboundMessage.objects.values_list("status", "last_error").get(pk=message_id))
            time.sleep(pause * (1 + random.random() / 4))  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")


def _settle_messages(broadcast_id: int, message_ids: list[int]) -> None:
    """Copy each delivered message's outcome to its queued rows (sent, or failed with LINE's error)."""
    outcomes = OutboundMessage.objects.filter(pk__in=message_ids).exclude(
        status=OutboundMessage.Status.PENDING).values_list("pk", "status", "last_error")
    now = timezone.now()
    table = BroadcastRecipient._meta.db_table
    sent = [pk for pk, status, _error in outcomes if status == OutboundMessage.Status.SENT]
    failed = [(pk, error[:2000] or status) for pk, status, error in outcomes if status != OutboundMessage.Status.SENT]
    with connection.cursor() as cursor:
        if sent:
            cursor.execute(f"UPDATE {table} SET status = %s, updated_at = %s "  # noqa: S608
                           "WHERE broadcast_id = %s AND status = %s AND message_id = ANY(%s)",
                           [Recipient.SENT, now, broadcast_id, Recipient.QUEUED, sent])
        for pk, error in failed:
            cursor.execute(f"UPDATE {table} SET status = %s, error = %s, updated_at = %s "  # noqa: S608
                           "WHERE broadcast_id = %s AND status = %s AND message_id = %s",
                           [Recipient.FAILED, error, now, broadcast_id, Recipient.QUEUED, pk])


def _send_direct(broadcast: Broadcast, rows: list[Row]) -> None:
    """SMS / e-mail rows (queued and committed): send each once, then record the outcome."""
    if not rows:
        return
    contexts = rendering.member_contexts(broadcast, [row.member for row in rows],
                                         _coupons_of(rows))
    for row in rows:
        subject, body = rendering.plain_text(broadcast, contexts[row.member_id])
        try:
            if row.channel == Channel.SMS:
                sms_send(phone=row.member.phone, text=body)
            else:
                send_mail(subject, body, None, [row.member.email])
        except Exception as error:  # noqa: BLE001 - any backend failure is this recipient's failure
            row.status, row.error = Recipient.FAILED, f"{type(error).__name__}: {error}"[:2000]
        else:
            row.status = Recipient.SENT
        BroadcastRecipient.objects.filter(pk=row.pk, status=Recipient.QUEUED).update(
            status=row.status, error=row.error, updated_at=timezone.now())


def _coupons_of(rows: list[Row]) -> dict:
    from loyalty.models import Coupon

    ids = {row.coupon_id: row.member_id for row in rows if row.coupon_id}
    return {ids[coupon.pk]: coupon for coupon in Coupon.objects.filter(pk__in=ids)}


def broadcast_send_batch(*, broadcast_id: int) -> int | None:
    """Claim and send one batch; returns how many rows it held (None: no batch left, or not sending).

    Must be called outside a transaction: LINE, SMS and e-mail are called after the claim commits.
    """
    claimed = _claim(broadcast_id)
    if claimed is None:
        return None
    for message_id in claimed.message_ids:
        _deliver_message(message_id)
    _settle_messages(claimed.broadcast.pk, claimed.message_ids)
    _send_direct(claimed.broadcast, claimed.direct)
    return claimed.claimed


def broadcast_recover(*, broadcast_id: int, older_than: timedelta = RECOVERY_LEASE) -> int:
    """Finish what crashed workers left queued longer than ``older_than`` ago; returns rows settled.

    LINE rows: their message is delivered again under its retry key (409 if LINE had it) and
    the outcome copied. SMS / e-mail rows: marked failed (at most once: they may have gone out).
    """
    cutoff = timezone.now() - older_than
    stale = BroadcastRecipient.objects.filter(broadcast_id=broadcast_id, status=Recipient.QUEUED,
                                              updated_at__lte=cutoff)
    message_ids = sorted(set(stale.filter(channel=Channel.LINE).exclude(message_id=None)
                             .values_list("message_id", flat=True)))
    for message_id in message_ids:
        _deliver_message(message_id)
    _settle_messages(broadcast_id, message_ids)
    lost = stale.exclude(channel=Channel.LINE).update(
        status=Recipient.FAILED, error="interrupted while sending; not sent again", updated_at=timezone.now())
    return len(message_ids) + lost


def broadcast_finish_if_done(*, broadcast_id: int) -> bool:
    """Sending → sent once no row is pending or queued (a conditional UPDATE)."""
    open_rows = BroadcastRecipient.objects.filter(broadcast_id=broadcast_id,
                                                  status__in=[Recipient.PENDING, Recipient.QUEUED])
    if open_rows.exists():
        return False
    now = timezone.now()
    return bool(Broadcast.objects.filter(pk=broadcast_id, status=Status.SENDING).update(
        status=Status.SENT, finished_at=now, updated_at=now))


@dataclass
class RunResult:
    batches: int
    claimed: int
    more: bool


def broadcast_send_run(*, broadcast_id: int, max_batches: int) -> RunResult:
    """Send up to ``max_batches`` batches. When nothing is left to claim: recover stale rows and
    mark the broadcast sent if all rows are settled. ``more``: call again (a task re-queues itself)."""
    batches = claimed = 0
    while batches < max_batches:
        count = broadcast_send_batch(broadcast_id=broadcast_id)
        if count is None:
            break
        batches += 1
        claimed += count
    else:
        return RunResult(batches, claimed, more=True)
    broadcast_recover(broadcast_id=broadcast_id)
    broadcast_finish_if_done(broadcast_id=broadcast_id)
    return RunResult(batches, claimed, more=False)


# --- test sends -----------------------------------------------------------------------------------


def broadcast_test_send(*, broadcast: Broadcast, member: Member | None = None, line_user_id: str = "") -> str:
    """Send the broadcast to one staff member's LINE (a member, or a bare LINE user id) as it would look.

    Not a recipient: no row, no coupon (a sample code is shown), nothing counted. A member gets
    it through the outbox (transactional: staff asked for it); a bare user id is pushed directly.
    Returns the LINE user id it went to.
    """
    if member is None and not line_user_id.strip():
        raise TestSendTargetMissing()
    if member is not None:
        if member.brand_id != broadcast.brand_id:
            raise TestSendTargetMissing()
        context = rendering.member_contexts(broadcast, [member])[member.pk]
        context.values["coupon_code"] = rendering.preview_context(broadcast, context.language).values["coupon_code"]
        message_push(member=member, template=f"{TEMPLATE}_test", messages=rendering.line_messages(broadcast, context))
        return member.line_user_id or ""
    context = rendering.preview_context(broadcast, "th")
    client.send_push(broadcast.brand, to=line_user_id.strip(),
                     messages=rendering.line_messages(broadcast, context), retry_key=str(uuid.uuid4()))
    return line_user_id.strip()
