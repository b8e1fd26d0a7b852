"""Processing stored LINE webhook events, exactly once each.

``line_events_store`` runs in the webhook view: one INSERT per new ``webhookEventId``
(duplicates ignored by the unique constraint), processing queued after commit.
``line_event_process`` runs in a Celery task: it claims the row with
``SELECT ... FOR UPDATE SKIP LOCKED`` while it is still ``received``, applies the effect
and marks it processed in the same transaction; replies leave through the outbox after
commit, never inside the lock.
"""

import logging
import re
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from loyalty import selectors as loyalty_selectors
from members.models import Brand, Member
from members.services import member_line_follow, member_line_unfollow

from . import flex
from .models import LineWebhookEvent
from .outbox import message_reply
from .tasks import link_rich_menu, process_line_events

logger = logging.getLogger(__name__)

COMMANDS = {
    "balance": {"แต้ม", "คะแนน", "เช็คแต้ม", "เช็กแต้ม", "ยอดแต้ม", "แต้มของฉัน", "points", "point", "balance",
                "my points"},
    "coupons": {"คูปอง", "คูปองของฉัน", "coupon", "coupons", "my coupons"},
    "card": {"บัตรสมาชิก", "บัตร", "card", "member card", "my card"},
    "tier": {"ระดับ", "สถานะ", "ระดับสมาชิก", "ระดับของฉัน", "สถานะสมาชิก", "tier", "my tier", "status", "level"},
    "help": {"help", "ช่วยเหลือ", "วิธีใช้", "เมนู", "menu", "?"},
}


def command_for(text: str) -> str | None:
    normalised = re.sub(r"\s+", " ", text.strip().lower())
    for command, words in COMMANDS.items():
        if normalised in words:
            return command
    return None


def line_events_store(*, brand: Brand, raw_events: list[dict]) -> list[int]:
    """Store new events (ignoring known ``webhookEventId``s) and queue their processing."""
    rows = []
    for raw in raw_events:
        event_id = raw.get("webhookEventId")
        if not event_id:
            continue
        rows.append(LineWebhookEvent(
            brand=brand,
            webhook_event_id=event_id,
            event_type=str(raw.get("type", ""))[:32],
            line_user_id=str((raw.get("source") or {}).get("userId", ""))[:64],
            occurred_at=datetime.fromtimestamp(int(raw.get("timestamp", 0)) / 1000, tz=UTC),
            is_redelivery=bool((raw.get("deliveryContext") or {}).get("isRedelivery")),
            payload=raw,
        ))
    if not rows:
        return []
    LineWebhookEvent.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(LineWebhookEvent.objects.filter(
        webhook_event_id__in=[row.webhook_event_id for row in rows], status=LineWebhookEvent.Status.RECEIVED,
    ).values_list("pk", flat=True))
    if pending:  # one task per webhook request (not per event): one broker round trip on the hot path
        # robust: with the broker down the events are kept and LINE still gets its 200;
        # messaging.tasks.sweep_line_events queues them once the broker is back.
        transaction.on_commit(lambda: process_line_events.delay(pending), robust=True)
    return pending


def line_event_process(*, event_id: int) -> str | None:
    """Apply one stored event once; returns its final status (None when another worker has it)."""
    with transaction.atomic():
        row = (LineWebhookEvent.objects.select_for_update(skip_locked=True)
               .select_related("brand").filter(pk=event_id, status=LineWebhookEvent.Status.RECEIVED).first())
        if row is None:
            return None
        row.attempts += 1
        try:
            event = Event.from_dict(row.payload)
        except ValueError:  # a type this SDK version does not know: kept, not acted on
            event = None
        handler = HANDLERS.get(type(event))
        if handler is None or getattr(event, "mode", "active") == "standby":
            row.status = LineWebhookEvent.Status.IGNORED
        else:
            handler(row.brand, event, row)
            row.status = LineWebhookEvent.Status.PROCESSED
        row.processed_at = timezone.now()
        row.save(update_fields=["status", "attempts", "processed_at"])
        return row.status


def _member(brand: Brand, user_id: str) -> Member | None:
    return Member.objects.select_related("brand").filter(brand=brand, line_user_id=user_id).first()


def _reply(member: Member, event, row: LineWebhookEvent, rendered: tuple[str, list[dict]]) -> None:
    template, messages = rendered
    message_reply(member=member, reply_token=getattr(event, "reply_token", "") or "", template=template,
                  messages=messages, event_time=row.occurred_at, dedupe_key=f"event:{row.webhook_event_id}")


def on_follow(brand: Brand, event: FollowEvent, row: LineWebhookEvent) -> None:
    member, _created = member_line_follow(brand=brand, line_user_id=event.source.user_id)
    member.brand = brand
    _reply(member, event, row, flex.welcome(member) if member.status == Member.Status.PENDING
           else flex.help_message(member))
    transaction.on_commit(lambda: link_rich_menu.delay(member.pk))


def on_unfollow(brand: Brand, event: UnfollowEvent, row: LineWebhookEvent) -> None:
    member_line_unfollow(brand=brand, line_user_id=event.source.user_id)


def answer_command(member: Member, command: str) -> tuple[str, list[dict]]:
    if command == "balance":
        accounts = loyalty_selectors.member_balances(member=member)
        return flex.balance(member, accounts, loyalty_selectors.member_points_expiring(member=member))
    if command == "coupons":
        return flex.coupons(member, list(loyalty_selectors.member_coupons_active(member=member)[:10]))
    if command == "card":
        return flex.member_card(member, loyalty_selectors.member_balances(member=member))
    if command == "tier":
        return flex.tier_card(member, loyalty_selectors.member_tier_status(member=member))
    return flex.help_message(member)


def _member_or_follow(brand: Brand, user_id: str) -> Member:
    """A message from someone we have no record of (followed before we were connected)."""
    member = _member(brand, user_id)
    if member is None:
        member, _created = member_line_follow(brand=brand, line_user_id=user_id)
        member.brand = brand
    return member


def on_message(brand: Brand, event: MessageEvent, row: LineWebhookEvent) -> None:
    if not isinstance(event.message, TextMessageContent):
        return
    command = command_for(event.message.text)
    if command is None:
        return  # free text is for the brand's staff in LINE OA Manager, not for the bot
    member = _member_or_follow(brand, event.source.user_id)
    _reply(member, event, row, answer_command(member, command))


def on_postback(brand: Brand, event: PostbackEvent, row: LineWebhookEvent) -> None:
    data = dict(part.split("=", 1) for part in event.postback.data.split("&") if "=" in part)
    command = data.get("action")
    if command not in COMMANDS:
        return
    member = _member_or_follow(brand, event.source.user_id)
    _reply(member, event, row, answer_command(member, command))


HANDLERS = {FollowEvent: on_follow, UnfollowEvent: on_unfollow, MessageEvent: on_message,
            PostbackEvent: on_postback}
