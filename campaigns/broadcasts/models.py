"""Broadcasts and coupon drops: one message to a segment, sent in batches, with results.

Design overview
- ``Broadcast``: what to send (text with placeholders, or a Flex card with image, title,
  text and a button), to whom (a segment, evaluated when sending starts), an optional
  coupon template (a ``loyalty.Reward``) issued to every recipient, fallbacks (SMS,
  e-mail) for members LINE cannot reach, a schedule and an optional holdout percentage.
  Its ``status`` moves only through the services' conditional UPDATEs
  (draft → scheduled → sending ⇄ paused → sent; draft/scheduled/paused → cancelled).
- ``BroadcastRecipient``: one row per member of the segment, written set-based when
  sending starts (``INSERT … SELECT``), never deleted. Its status says what happened:
  pending → queued (bound to the ``messaging.OutboundMessage`` that carries it, or to an
  SMS/e-mail send) → sent / failed; or holdout / skipped with the reason. ``UNIQUE
  (broadcast, member)`` makes a member a recipient at most once; a row is bound to at most
  one outbound message, and that message's retry key is derived from the broadcast and
  its rows, so a batch retried after a crash is answered 409 by LINE instead of being
  delivered twice.
- ``BroadcastBatch``: the pending recipients cut into id ranges of at most 500 when sending
  starts (set-based). Workers claim a batch row with ``SELECT … FOR UPDATE SKIP LOCKED`` and
  mark it done in the transaction that queues its recipients, so claims never walk the
  recipients already handled (a queue scan over 1,000,000 rows would).
- Holdout members are drawn among the members who could have been sent to (current
  marketing consent and reachable): ``md5("<broadcast>:<member>")`` first 32 bits mod 100
  below the percentage, so the sample is random-looking, deterministic and comparable.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Broadcast(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    class MessageKind(models.TextChoices):
        TEXT = "text", _("Text")
        FLEX = "flex", _("Card (image, title, text, button)")

    class ButtonTarget(models.TextChoices):
        NONE = "", _("No button")
        URL = "url", _("A web address")
        LIFF = "liff", _("A page of the member portal (LIFF)")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="broadcasts")
    name = models.CharField(_("name"), max_length=200, help_text=_("For staff; members do not see it."))
    segment = models.ForeignKey("segments.Segment", on_delete=models.PROTECT, related_name="broadcasts",
                                verbose_name=_("segment"), help_text=_("Evaluated when sending starts."))
    message_kind = models.CharField(_("message"), max_length=8, choices=MessageKind.choices,
                                    default=MessageKind.TEXT)
    text_th = models.TextField(
        _("text (Thai)"), max_length=4000,
        help_text=_("Placeholders: {first_name} {last_name} {display_name} {member_code} {tier} {points} "
                    "{coupon_code} {coupon_name} {brand}."),
    )
    text_en = models.TextField(_("text (English)"), max_length=4000, blank=True,
                               help_text=_("For members who chose English. Empty: the Thai text."))
    title_th = models.CharField(_("card title (Thai)"), max_length=100, blank=True)
    title_en = models.CharField(_("card title (English)"), max_length=100, blank=True)
    image_url = models.URLField(_("card image URL"), blank=True, help_text=_("HTTPS, JPEG or PNG."))
    button_target = models.CharField(_("button opens"), max_length=8, choices=ButtonTarget.choices, blank=True)
    button_label_th = models.CharField(_("button label (Thai)"), max_length=20, blank=True)
    button_label_en = models.CharField(_("button label (English)"), max_length=20, blank=True)
    button_url = models.URLField(_("button web address"), blank=True)
    button_liff_path = models.CharField(_("button portal page"), max_length=200, blank=True,
                                        help_text=_("A path of the member portal, e.g. rewards/ or coupons/."))
    coupon_reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="broadcasts",
        verbose_name=_("coupon to give"),
        help_text=_("Every recipient gets one coupon of this reward; put {coupon_code} in the text."),
    )
    fallback_sms = models.BooleanField(_("SMS for members not on LINE"), default=False)
    fallback_email = models.BooleanField(_("e-mail for members not on LINE"), default=False)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout percentage"), default=0,
        help_text=_("A random share of the audience that is deliberately not sent to, to measure the uplift."),
    )
    results_days = models.PositiveSmallIntegerField(
        _("results window (days)"), default=7,
        help_text=_("Purchases within this many days after sending count for the results."),
    )
    cost_per_message_thb = models.DecimalField(
        _("cost per message (THB)"), max_digits=8, decimal_places=4, default=0,
        help_text=_("What one message costs (LINE, SMS), for the ROI."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    started_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=90), name="broadcast_holdout_at_most_90"),
            models.CheckConstraint(condition=Q(results_days__gte=1), name="broadcast_results_days_positive"),
            models.CheckConstraint(condition=Q(cost_per_message_thb__gte=0), name="broadcast_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "send_at"], name="broadcast_due")]

    def __str__(self) -> str:
        return self.name


class BroadcastRecipient(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        QUEUED = "queued", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        HOLDOUT = "holdout", _("Holdout (not sent on purpose)")
        SKIPPED_NO_CONSENT = "skipped_no_consent", _("Skipped: no marketing consent")
        SKIPPED_UNREACHABLE = "skipped_unreachable", _("Skipped: not reachable")
        SKIPPED_NO_COUPON = "skipped_no_coupon", _("Skipped: coupons ran out")

    class Channel(models.TextChoices):
        NONE = "", _("None")
        LINE = "line", _("LINE")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    id = models.BigAutoField(primary_key=True)
    broadcast = models.ForeignKey(Broadcast, on_delete=models.PROTECT, related_name="recipients")
    # No single-column indexes on the foreign keys: every index costs each of the two status
    # updates per recipient; lookups go through (broadcast, member) and (broadcast, status, id).
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, blank=True)
    # Written only in the transaction that creates the message / coupon; no database constraint,
    # so purging old outbound messages never scans the recipients (there is no index to scan).
    message = models.ForeignKey("messaging.OutboundMessage", on_delete=models.DO_NOTHING, null=True, blank=True,
                                related_name="+", db_index=False, db_constraint=False)
    coupon = models.ForeignKey("loyalty.Coupon", on_delete=models.DO_NOTHING, null=True, blank=True,
                               related_name="+", db_index=False, db_constraint=False)
    error = models.TextField(_("error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("broadcast recipient")
        verbose_name_plural = _("broadcast recipients")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "member"], name="broadcast_recipient_once"),
        ]
        indexes = [
            # claims take the lowest pending ids of a broadcast: (broadcast, status, id) serves ORDER BY id LIMIT
            models.Index(fields=["broadcast", "status", "id"], name="broadcast_recipient_status"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id}:{self.member_id} {self.status}"


class BroadcastBatch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Claimed by a worker")

    id = models.BigAutoField(primary_key=True)
    broadcast = models.ForeignKey(Broadcast, on_delete=models.PROTECT, related_name="batches")
    number = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)

    class Meta:
        verbose_name = _("broadcast batch")
        verbose_name_plural = _("broadcast batches")
        constraints = [models.UniqueConstraint(fields=["broadcast", "number"], name="broadcast_batch_number_once")]
        indexes = [models.Index(fields=["broadcast", "number"], name="broadcast_batch_pending",
                                condition=Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.broadcast_id}#{self.number}"
