"""LINE webhook events, the outbox of messages to send, and per-recipient deliveries.

Design overview
- ``LineWebhookEvent``: one row per ``webhookEventId`` (unique), stored by the webhook view
  before it answers 200; a Celery task processes each row exactly once (row lock + status
  transition), so LINE's redeliveries change nothing.
- ``OutboundMessage``: one logical send (reply, push, multicast batch). It is written in
  the transaction that decides to send and delivered after commit by a task; its
  ``retry_key`` travels as ``X-Line-Retry-Key`` on every attempt, so a retried push is
  never delivered twice. ``dedupe_key`` (unique per brand) makes a notification queued
  twice (e.g. a replayed domain event) a single message.
- ``MessageDelivery``: what each recipient got (sent, failed, skipped), so staff can see
  what a member received.
- ``RichMenu``: the LINE rich menu created for each member state (unregistered, member,
  later one per tier).
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LineWebhookEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="line_events")
    webhook_event_id = models.CharField(_("webhook event ID"), max_length=64, unique=True)
    event_type = models.CharField(_("type"), max_length=32)
    line_user_id = models.CharField(_("LINE user ID"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    is_redelivery = models.BooleanField(_("redelivery"), default=False)
    payload = models.JSONField(_("event JSON"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("LINE webhook event")
        verbose_name_plural = _("LINE webhook events")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="line_event_status")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_event_id}"


class OutboundMessage(models.Model):
    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        PUSH = "push", _("Push")
        MULTICAST = "multicast", _("Multicast")

    class Purpose(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Transactional")
        MARKETING = "marketing", _("Marketing")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="outbound_messages")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.TRANSACTIONAL)
    template = models.CharField(_("template"), max_length=64)
    reply_token = models.CharField(max_length=255, blank=True)
    recipients = models.JSONField(_("LINE user IDs"), default=list)
    messages = models.JSONField(_("messages"))
    retry_key = models.UUIDField(_("retry key"), default=uuid.uuid4, unique=True, editable=False)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no dedupe
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    line_request_id = models.CharField(_("LINE request ID"), max_length=64, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound LINE message")
        verbose_name_plural = _("outbound LINE messages")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "dedupe_key"], condition=Q(dedupe_key__isnull=False), name="outbound_dedupe_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.template} ({self.get_status_display()})"


class MessageDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED_UNREACHABLE = "skipped_unreachable", _("Skipped: blocked the OA")
        SKIPPED_NO_CONSENT = "skipped_no_consent", _("Skipped: no marketing consent")

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="deliveries")
    member = models.ForeignKey(
        "members.Member", on_delete=models.SET_NULL, null=True, blank=True, related_name="line_deliveries"
    )
    line_user_id = models.CharField(_("LINE user ID"), max_length=64)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message delivery")
        verbose_name_plural = _("message deliveries")
        indexes = [models.Index(fields=["member", "-updated_at"], name="delivery_member_recent")]

    def __str__(self) -> str:
        return f"{self.line_user_id}: {self.get_status_display()}"


class RichMenu(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="rich_menus")
    key = models.CharField(_("for"), max_length=64, help_text=_("unregistered, member, or tier:<code>"))
    line_rich_menu_id = models.CharField(_("LINE rich menu ID"), max_length=100, blank=True)
    definition_hash = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rich menu")
        verbose_name_plural = _("rich menus")
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="rich_menu_key_unique_per_brand")]

    def __str__(self) -> str:
        return f"{self.brand} · {self.key}"
