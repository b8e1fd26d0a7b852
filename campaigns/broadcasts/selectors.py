"""Reads for broadcasts: the audience (who would get it and why not), progress, and results.

``audience_queryset`` is the single definition of who is sent to: the audience screen
counts it, and sending materialises it (``INSERT … SELECT``), so both always agree.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import BooleanField, Case, CharField, Count, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from campaigns.segments.services import segment_members
from consent.selectors import marketing_granted
from loyalty.models import Coupon, Purchase, Reward
from members.models import Member

from .models import Broadcast, BroadcastRecipient

Status = BroadcastRecipient.Status
Channel = BroadcastRecipient.Channel
SKIP_REASONS = (Status.SKIPPED_NO_CONSENT, Status.SKIPPED_UNREACHABLE, Status.SKIPPED_NO_COUPON)
ZERO = Decimal("0.00")


def holdout_bucket(broadcast_id: int, member_id: int) -> int:
    """0-99: the first 32 bits of md5("<broadcast>:<member>") mod 100 (the SQL in ``_holdout`` is its twin)."""
    return int(hashlib.md5(f"{broadcast_id}:{member_id}".encode()).hexdigest()[:8], 16) % 100  # noqa: S324 - sampling


def _holdout(broadcast: Broadcast) -> RawSQL:
    table = Member._meta.db_table
    return RawSQL(  # noqa: S611 - no user input: a table name and two integers as parameters
        f"""(('x' || substr(md5(%s || ':' || "{table}"."id"), 1, 8))::bit(32)::bigint %% 100) < %s""",
        (str(broadcast.pk), broadcast.holdout_percent), output_field=BooleanField(),
    )


def audience_queryset(broadcast: Broadcast) -> QuerySet[Member]:
    """The segment's members now, annotated with ``recipient_channel`` and ``recipient_status``.

    Channel: LINE when they follow the OA, else SMS / e-mail when the broadcast falls back
    to it and they have a phone / address, else none. Status: no current marketing consent,
    unreachable, holdout (drawn among the others), or pending (to send).
    """
    channels = [When(Q(line_user_id__isnull=False, line_reachable=True), then=Value(Channel.LINE))]
    if broadcast.fallback_sms:
        channels.append(When(Q(phone__isnull=False) & ~Q(phone=""), then=Value(Channel.SMS)))
    if broadcast.fallback_email:
        channels.append(When(~Q(email=""), then=Value(Channel.EMAIL)))
    statuses = [When(marketing_granted=False, then=Value(Status.SKIPPED_NO_CONSENT)),
                When(recipient_channel=Channel.NONE, then=Value(Status.SKIPPED_UNREACHABLE))]
    if broadcast.holdout_percent:
        statuses.append(When(_holdout(broadcast), then=Value(Status.HOLDOUT)))
    return (segment_members(broadcast.segment).order_by()
            .alias(marketing_granted=marketing_granted(brand=broadcast.brand))
            .annotate(recipient_channel=Case(*channels, default=Value(Channel.NONE), output_field=CharField()))
            .annotate(recipient_status=Case(*statuses, default=Value(Status.PENDING), output_field=CharField())))


@dataclass
class Audience:
    total: int = 0
    no_consent: int = 0
    unreachable: int = 0
    holdout: int = 0
    to_send: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)  # of those to send


def _audience_from(rows) -> Audience:
    audience = Audience(by_channel={Channel.LINE: 0, Channel.SMS: 0, Channel.EMAIL: 0})
    for status, channel, count in rows:
        audience.total += count
        if status == Status.SKIPPED_NO_CONSENT:
            audience.no_consent += count
        elif status == Status.SKIPPED_UNREACHABLE:
            audience.unreachable += count
        elif status == Status.HOLDOUT:
            audience.holdout += count
        else:
            audience.to_send += count
            audience.by_channel[channel] = audience.by_channel.get(channel, 0) + count
    return audience


def broadcast_audience(*, broadcast: Broadcast) -> Audience:
    """Who it goes to and who is left out, with counts per reason.

    Before sending: the segment as it is now (one grouped query). Once sending has started:
    the recipients written then (a consent withdrawn since shows under no consent once its
    batch was checked).
    """
    if broadcast.started_at is None:
        rows = (audience_queryset(broadcast).values_list("recipient_status", "recipient_channel")
                .annotate(n=Count("pk")).order_by())
        return _audience_from(rows)
    rows = (BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status", "channel")
            .annotate(n=Count("pk")).order_by())
    return _audience_from((status, channel, n) for status, channel, n in rows if status != Status.SKIPPED_NO_COUPON)


@dataclass
class Progress:
    status: str
    total: int = 0
    pending: int = 0
    queued: int = 0
    sent: int = 0
    failed: int = 0
    holdout: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def to_send(self) -> int:
        return self.pending + self.queued + self.sent + self.failed

    @property
    def percent(self) -> int:
        """Share of the members to send to that are done (sent or failed), 0-100."""
        if not self.to_send:
            return 100 if self.status == Broadcast.Status.SENT else 0
        return int((self.sent + self.failed) * 100 / self.to_send)

    def as_json(self) -> dict:
        return {"status": self.status, "total": self.total, "pending": self.pending, "queued": self.queued,
                "sent": self.sent, "failed": self.failed, "holdout": self.holdout, "skipped": self.skipped,
                "skipped_total": self.skipped_total, "to_send": self.to_send, "percent": self.percent}


def broadcast_progress(*, broadcast: Broadcast) -> Progress:
    """Counts per recipient status (one grouped query on the (broadcast, status) index)."""
    progress = Progress(status=broadcast.status, skipped=dict.fromkeys(SKIP_REASONS, 0))
    for status, count in (BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status")
                          .annotate(n=Count("pk")).order_by()):
        progress.total += count
        if status in SKIP_REASONS:
            progress.skipped[status] = count
        elif status == Status.HOLDOUT:
            progress.holdout = count
        else:
            setattr(progress, status, count)
    return progress


@dataclass
class Group:
    """Members of one side (sent or holdout) and what they bought in the window."""

    members: int = 0
    buyers: int = 0
    spend: Decimal = ZERO

    @property
    def conversion(self) -> Decimal:
        """Percent of the group who bought, 2 places."""
        return (Decimal(self.buyers * 100) / self.members).quantize(Decimal("0.01")) if self.members else ZERO

    @property
    def spend_per_member(self) -> Decimal:
        return (self.spend / self.members).quantize(Decimal("0.01")) if self.members else ZERO


@dataclass
class Results:
    delivered: int
    failed: int
    skipped: dict[str, int]
    holdout_members: int
    by_channel: dict[str, int]
    coupons_issued: int
    coupons_used: int
    window_start: object
    window_end: object
    sent: Group
    holdout: Group
    cost: Decimal
    has_holdout: bool = False

    @property
    def uplift_points(self) -> Decimal | None:
        """Conversion of the sent group minus the holdout's, in percentage points."""
        return self.sent.conversion - self.holdout.conversion if self.has_holdout else None

    @property
    def incremental_spend(self) -> Decimal | None:
        """(spend per sent member − spend per holdout member) × sent members."""
        if not self.has_holdout:
            return None
        return ((self.sent.spend_per_member - self.holdout.spend_per_member) * self.sent.members).quantize(
            Decimal("0.01"))

    @property
    def roi_percent(self) -> Decimal | None:
        """(incremental spend − cost) / cost, in percent; None without a holdout or a cost."""
        incremental = self.incremental_spend
        if incremental is None or not self.cost:
            return None
        return ((incremental - self.cost) * 100 / self.cost).quantize(Decimal("0.1"))


def _group(broadcast: Broadcast, status: str, start, end) -> Group:
    members = BroadcastRecipient.objects.filter(broadcast=broadcast, status=status)
    bought = (Purchase.objects.filter(brand_id=broadcast.brand_id, purchased_at__gte=start, purchased_at__lt=end,
                                      member_id__in=members.values("member_id"))
              .aggregate(buyers=Count("member_id", distinct=True),
                         spend=Coalesce(Sum("total") - Sum("refunded_total"), Value(ZERO))))
    return Group(members=members.count(), buyers=bought["buyers"], spend=bought["spend"] or ZERO)


def _coupon_value(reward: Reward | None) -> Decimal:
    """What one used coupon costs the brand: its value, or the amount taken off."""
    if reward is None:
        return ZERO
    if reward.value_thb is not None:
        return reward.value_thb
    if reward.coupon_kind == Reward.CouponKind.AMOUNT_OFF and reward.coupon_value is not None:
        return reward.coupon_value
    return ZERO


def broadcast_results(*, broadcast: Broadcast) -> Results:
    """Delivered, failed, skipped, coupons, and purchases within ``results_days`` of the start for the
    members sent to and for the holdout (spend after refunds), so staff see uplift and ROI."""
    progress = broadcast_progress(broadcast=broadcast)
    start = broadcast.started_at
    end = start + timedelta(days=broadcast.results_days) if start else None
    by_channel = dict(BroadcastRecipient.objects.filter(broadcast=broadcast, status=Status.SENT)
                      .values_list("channel").annotate(n=Count("pk")).order_by())
    coupons = Coupon.objects.filter(pk__in=BroadcastRecipient.objects.filter(
        broadcast=broadcast, coupon__isnull=False).values("coupon_id"))
    issued = coupons.count()
    used = coupons.filter(status=Coupon.Status.USED).count()
    if start is None:
        sent = holdout = Group()
    else:
        sent = _group(broadcast, Status.SENT, start, end)
        holdout = _group(broadcast, Status.HOLDOUT, start, end)
    cost = (broadcast.cost_per_message_thb * progress.sent + _coupon_value(broadcast.coupon_reward) * used)
    return Results(delivered=progress.sent, failed=progress.failed, skipped=progress.skipped,
                   holdout_members=progress.holdout, by_channel=by_channel, coupons_issued=issued,
                   coupons_used=used, window_start=start, window_end=end, sent=sent, holdout=holdout,
                   cost=cost.quantize(Decimal("0.01")), has_holdout=progress.holdout > 0)
