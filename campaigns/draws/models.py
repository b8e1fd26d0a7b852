"""Lucky draws: tickets bought with points or granted, winners drawn verifiably.

Design overview (``docs/campaigns-draws.md``):

- ``LuckyDraw`` moves draft → open → (closed) → drawn, or to cancelled before it is drawn.
  Every move is a conditional ``UPDATE ... WHERE status IN (...)``, so a draw is opened,
  drawn or cancelled once however many workers try (``campaigns.draws.services``).
- Opening commits to a random 32-byte ``seed`` (stored encrypted) by publishing
  ``seed_hash = SHA-256(seed)``; entries can only be taken while the draw is open, so the
  hash is public before they close. Drawing copies the seed into ``revealed_seed``.
- ``DrawEntry(draw, member)`` holds a member's ticket count (unique per draw and member);
  it changes only under its row lock, with ``F()``. ``TicketBatch`` rows are the
  append-only history behind it (one per purchase or grant, ``(draw, key)`` unique: a
  replayed purchase or grant adds nothing). A purchase's points are one ledger debit.
- ``DrawWinner(draw, slot)`` is unique: slot ``k`` of the expanded prize list (prizes by
  position, each repeated ``quantity`` times) has one winner, who never wins another slot
  of the same draw (``(draw, member)`` unique too).
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel
from config.crypto import EncryptedTextField


class LuckyDraw(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Entries closed")
        DRAWN = "drawn", _("Drawn")
        CANCELLED = "cancelled", _("Cancelled")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="lucky_draws")
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description (Thai)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    image_url = models.URLField(_("image URL"), blank=True)
    currency = models.ForeignKey(
        "loyalty.PointCurrency", on_delete=models.PROTECT, related_name="lucky_draws", verbose_name=_("currency"),
        help_text=_("Tickets are bought with, and points prizes paid in, this currency."),
    )
    ticket_cost = models.PositiveIntegerField(
        _("ticket cost (points)"), default=0, help_text=_("0: tickets cannot be bought, only granted."))
    max_tickets_per_member = models.PositiveIntegerField(
        _("max tickets bought per member"), null=True, blank=True,
        help_text=_("Limits tickets bought with points; granted tickets come on top. Empty: no limit."))
    entries_open_at = models.DateTimeField(_("entries open at"))
    entries_close_at = models.DateTimeField(_("entries close at"))
    draw_at = models.DateTimeField(_("draw at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    consolation_enabled = models.BooleanField(
        _("consolation message"), default=False,
        help_text=_("Send participants who did not win a LINE message after the draw."))
    audience_tiers = models.ManyToManyField(
        "loyalty.Tier", blank=True, related_name="lucky_draws", verbose_name=_("for tiers"),
        help_text=_("Only members of these tiers can take part. Empty: every member."))
    seed = EncryptedTextField(_("seed"), blank=True, editable=False)
    seed_hash = models.CharField(_("committed seed hash (SHA-256)"), max_length=64, blank=True, editable=False)
    revealed_seed = models.CharField(_("revealed seed"), max_length=64, blank=True, editable=False)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True, editable=False)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)
    results_delivered_at = models.DateTimeField(_("prizes and messages sent at"), null=True, blank=True,
                                                editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lucky draw")
        verbose_name_plural = _("lucky draws")
        ordering = ["-draw_at"]
        constraints = [
            models.CheckConstraint(condition=Q(entries_close_at__gt=F("entries_open_at")),
                                   name="draw_entries_close_after_open"),
            models.CheckConstraint(condition=Q(draw_at__gte=F("entries_close_at")), name="draw_at_after_entries_close"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"]) | ~Q(seed_hash=""), name="draw_open_has_committed_seed"),
            models.CheckConstraint(condition=~Q(status="drawn") | ~Q(revealed_seed=""),
                                   name="drawn_draw_has_revealed_seed"),
        ]
        indexes = [models.Index(fields=["status", "draw_at"], name="draw_status_due")]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def display_description(self, language: str) -> str:
        return self.description_en if language == "en" and self.description_en else self.description

    def accepts_entries(self, at=None) -> bool:
        at = at or timezone.now()
        return self.status == self.Status.OPEN and self.entries_open_at <= at < self.entries_close_at


class Prize(models.Model):
    draw = models.ForeignKey(LuckyDraw, on_delete=models.CASCADE, related_name="prizes")
    position = models.PositiveSmallIntegerField(_("order"), default=1, help_text=_("1 is drawn first."))
    name = models.CharField(_("name (Thai)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    reward = models.ForeignKey(
        "loyalty.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="draw_prizes",
        verbose_name=_("coupon of reward"), help_text=_("Winners get a coupon of this reward."))
    points = models.PositiveIntegerField(_("points"), null=True, blank=True, help_text=_("Winners get these points."))

    class Meta:
        verbose_name = _("prize")
        verbose_name_plural = _("prizes")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="prize_quantity_positive"),
            models.CheckConstraint(condition=Q(reward__isnull=True) | Q(points__isnull=True),
                                   name="prize_coupon_or_points"),
            models.CheckConstraint(condition=Q(points__isnull=True) | Q(points__gt=0), name="prize_points_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class DrawEntry(models.Model):
    draw = models.ForeignKey(LuckyDraw, on_delete=models.PROTECT, related_name="entries")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="draw_entries")
    tickets = models.PositiveIntegerField(_("tickets"), default=0)
    tickets_bought = models.PositiveIntegerField(_("tickets bought"), default=0)
    points_spent = models.BigIntegerField(_("points spent"), default=0)
    created_at = models.DateTimeField(_("first ticket at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["member_id"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "member"], name="draw_entry_once_per_member"),
            models.CheckConstraint(condition=Q(tickets__gte=F("tickets_bought")), name="draw_entry_bought_within_total"),
            models.CheckConstraint(condition=Q(points_spent__gte=0), name="draw_entry_points_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.member} × {self.tickets}"


class TicketBatch(AppendOnlyModel):
    """Tickets added to an entry by one purchase or one grant (append-only)."""

    class Kind(models.TextChoices):
        BOUGHT = "bought", _("Bought with points")
        GRANTED = "granted", _("Granted")

    draw = models.ForeignKey(LuckyDraw, on_delete=models.PROTECT, related_name="ticket_batches")
    entry = models.ForeignKey(DrawEntry, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    tickets = models.PositiveIntegerField(_("tickets"))
    points = models.BigIntegerField(_("points"), default=0)
    key = models.CharField(_("key"), max_length=200)
    ledger_entry = models.ForeignKey("loyalty.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket batch")
        verbose_name_plural = _("ticket batches")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "key"], name="ticket_batch_key_unique_per_draw"),
            models.CheckConstraint(condition=Q(tickets__gte=1), name="ticket_batch_tickets_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} × {self.tickets}"


class DrawWinner(models.Model):
    """Who won slot ``slot`` (1-based) of a draw, and whether the prize was delivered."""

    draw = models.ForeignKey(LuckyDraw, on_delete=models.PROTECT, related_name="winners")
    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="winners")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="draw_wins")
    slot = models.PositiveIntegerField(_("slot"))
    tickets = models.PositiveIntegerField(_("tickets held"))
    coupon = models.ForeignKey("loyalty.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ledger_entry = models.ForeignKey("loyalty.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    awarded_at = models.DateTimeField(_("prize delivered at"), null=True, blank=True)
    award_error = models.CharField(_("delivery problem"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("drawn at"), auto_now_add=True)

    class Meta:
        verbose_name = _("winner")
        verbose_name_plural = _("winners")
        ordering = ["draw", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "slot"], name="draw_winner_one_per_slot"),
            models.UniqueConstraint(fields=["draw", "member"], name="draw_winner_once_per_member"),
        ]

    def __str__(self) -> str:
        return f"#{self.slot} {self.member}"
