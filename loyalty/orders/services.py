"""Orders from web shops and marketplaces: earn on paid, reverse on refund, wait when unknown.

Every write ends in ``loyalty.services.earning`` (``purchase_record``/``purchase_refund``),
so the ledger rules hold and a replay is harmless:

- a paid order is a purchase keyed ``(brand, channel, order key)``; replays return it;
- a refund is keyed by a refund id derived from the event; replays return the first;
- an order whose customer is not a member yet is a ``PendingOrder`` (unique per order
  key), credited exactly once, under its row lock, when a member with that phone, e-mail
  or LINE user id registers; a refund or cancellation that arrives first cancels it.

Members are matched by LINE user id, then phone (E.164), then e-mail (only a unique,
registered member's, and only where the integration allows it: profile e-mails are not
verified). Pending (unregistered) members are matched too: their points move with them
when they register.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.domain import DomainError
from loyalty.errors import IdempotencyConflict, PurchaseAlreadyRefunded
from loyalty.models import Purchase
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import Channel
from members.errors import InvalidPhone
from members.models import Brand, Member
from members.services import phone_normalise

from .models import PendingOrder, ShopIntegration

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Customer:
    """Normalised identifiers of an order's buyer (empty strings when unknown)."""

    phone: str = ""
    email: str = ""
    line_user_id: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.phone or self.email or self.line_user_id)


def customer_clean(*, phone: str = "", email: str = "", line_user_id: str = "") -> Customer:
    """Identifiers as stored and matched: E.164 phone (an unusable phone is dropped), lower-case e-mail."""
    e164 = ""
    if phone and str(phone).strip():
        try:
            e164 = phone_normalise(phone)
        except InvalidPhone:
            e164 = ""
    return Customer(phone=e164, email=(email or "").strip().lower()[:254], line_user_id=(line_user_id or "").strip())


@dataclass(frozen=True)
class OrderInput:
    order_id: str
    total: Decimal
    paid_at: datetime
    customer: Customer
    lines: list[LineInput] = field(default_factory=list)


@dataclass(frozen=True)
class OrderOutcome:
    """What an order event did. ``created`` is False when it wrote nothing (a replay)."""

    status: str  # credited | pending | refunded | cancelled | not_credited | ignored
    created: bool
    order_key: str
    purchase: Purchase | None = None
    member: Member | None = None
    pending: PendingOrder | None = None
    points: int = 0
    reason: str = ""
    message: str = ""


def order_channel_and_key(*, integration: ShopIntegration | None, marketplace: str = "",
                          order_id: str) -> tuple[str, str]:
    """The purchase channel and order id of a shop order.

    Marketplace orders are keyed by marketplace (not by integration), so the same Shopee
    order arriving by webhook and in an uploaded export is one purchase.
    """
    marketplace = marketplace or (integration.kind if integration is not None and integration.is_marketplace else "")
    if marketplace:
        return Channel.MARKETPLACE, f"{marketplace}:{order_id}"
    return Channel.ECOMMERCE, f"{integration.pk}:{order_id}"


MATCHABLE = (Member.Status.ACTIVE, Member.Status.PENDING, Member.Status.SUSPENDED)


def member_match(*, brand: Brand, customer: Customer, allow_email: bool = True) -> Member | None:
    """The brand's member for these identifiers: LINE user id, then phone, then a unique registered e-mail."""
    members = Member.objects.filter(brand=brand, status__in=MATCHABLE)
    if customer.line_user_id:
        member = members.filter(line_user_id=customer.line_user_id).first()
        if member is not None:
            return member
    if customer.phone:
        member = members.filter(phone=customer.phone).first()
        if member is not None:
            return member
    if customer.email and allow_email:
        found = list(Member.objects.filter(brand=brand, status=Member.Status.ACTIVE, email__iexact=customer.email)[:2])
        if len(found) == 1:
            return found[0]
    return None


def _purchase_for(brand: Brand, channel: str, order_key: str) -> Purchase | None:
    return Purchase.objects.filter(brand=brand, channel=channel, order_id=order_key).select_related("member").first()


def _lines_json(lines: list[LineInput]) -> list[dict]:
    return [{"sku": line.sku, "category": line.category, "quantity": line.quantity,
             "amount": str(Decimal(line.amount).quantize(CENT))} for line in lines]


def _lines_from_json(lines: list[dict]) -> list[LineInput]:
    return [LineInput(amount=Decimal(line["amount"]), sku=line.get("sku", ""), category=line.get("category", ""),
                      quantity=int(line.get("quantity", 1))) for line in lines]


def order_paid(*, brand: Brand, channel: str, order_key: str, order: OrderInput,
               integration: ShopIntegration | None = None, source: str = PendingOrder.Source.WEBHOOK,
               allow_email: bool = True) -> OrderOutcome:
    """A paid order: credit the matched member once, or keep it pending until they register.

    A replay (the purchase or the pending order exists) writes nothing, except that a
    still-pending order is credited when its member exists by now. A cancelled pending
    order (its refund came first) never earns. Raises ``IdempotencyConflict`` when the
    order was recorded with another total.
    """
    total = Decimal(order.total).quantize(CENT)
    purchase = _purchase_for(brand, channel, order_key)
    if purchase is not None:
        if purchase.total != total:
            raise IdempotencyConflict(fields={"order_id": [_("This order was already recorded with another total.")]})
        return OrderOutcome("credited", created=False, order_key=order_key, purchase=purchase,
                            member=purchase.member, points=purchase.points_earned)
    pending = PendingOrder.objects.filter(brand=brand, channel=channel, order_key=order_key).first()
    if pending is None:
        # Every paid order gets its PendingOrder row first: it is the row that a paid event and a
        # refund/cancel event of the same order both lock, so the database decides their race.
        pending, created = _pending_create(brand=brand, channel=channel, order_key=order_key, order=order,
                                           integration=integration, source=source)
        member = member_match(brand=brand, customer=order.customer, allow_email=allow_email)
        if member is not None:
            return pending_order_credit(pending_id=pending.pk, member=member)
        if created:
            return OrderOutcome("pending", created=True, order_key=order_key, pending=pending)
    if pending.status == PendingOrder.Status.CANCELLED:
        return OrderOutcome("cancelled", created=False, order_key=order_key, pending=pending)
    if pending.status == PendingOrder.Status.CREDITED:
        return OrderOutcome("credited", created=False, order_key=order_key, pending=pending,
                            purchase=pending.purchase, member=pending.member,
                            points=pending.purchase.points_earned if pending.purchase else 0)
    customer = Customer(phone=pending.phone, email=pending.email, line_user_id=pending.line_user_id)
    member = member_match(brand=brand, customer=customer, allow_email=allow_email)
    if member is not None:
        return pending_order_credit(pending_id=pending.pk, member=member)
    return OrderOutcome("pending", created=False, order_key=order_key, pending=pending)


def _pending_create(*, brand: Brand, channel: str, order_key: str, order: OrderInput,
                    integration: ShopIntegration | None, source: str,
                    status: str = PendingOrder.Status.PENDING) -> tuple[PendingOrder, bool]:
    """The pending order for this key; the unique constraint decides concurrent deliveries."""
    try:
        with transaction.atomic():
            return PendingOrder.objects.create(
                brand=brand, integration=integration, source=source, channel=channel, order_key=order_key,
                order_id=order.order_id, phone=order.customer.phone, email=order.customer.email,
                line_user_id=order.customer.line_user_id, total=Decimal(order.total).quantize(CENT),
                lines=_lines_json(order.lines), paid_at=order.paid_at, status=status,
            ), True
    except IntegrityError:
        return PendingOrder.objects.get(brand=brand, channel=channel, order_key=order_key), False


def pending_order_credit(*, pending_id: int, member: Member) -> OrderOutcome:
    """Credit one pending order to ``member`` exactly once.

    Locks the pending order row, then (through the earning services) the member's
    accounts. Only a ``pending`` order is credited: the purchase is recorded (idempotent
    on the order key), refunds received while it waited are applied with their own ids,
    and the row becomes ``credited``, all in one transaction. A domain error (suspended
    member, the order key already used for another member) leaves it pending with the
    error noted.
    """
    try:
        with transaction.atomic():
            pending = PendingOrder.objects.select_for_update().get(pk=pending_id)
            if pending.status == PendingOrder.Status.CANCELLED:
                return OrderOutcome("cancelled", created=False, order_key=pending.order_key, pending=pending)
            if pending.status == PendingOrder.Status.CREDITED:
                return OrderOutcome("credited", created=False, order_key=pending.order_key, pending=pending,
                                    purchase=pending.purchase, member=pending.member)
            if pending.brand_id != member.brand_id:
                raise ValueError("a pending order is credited to a member of its own brand")
            result = purchase_record(brand=pending.brand, member=member, channel=pending.channel,
                                     order_id=pending.order_key, total=pending.total,
                                     lines=_lines_from_json(pending.lines),
                                     purchased_at=pending.paid_at or pending.created_at)
            for refund in pending.refunds:
                purchase_refund(brand=pending.brand, purchase_id=result.purchase.pk,
                                amount=Decimal(refund["amount"]), refund_id=refund["refund_id"])
            pending.status, pending.member, pending.purchase = PendingOrder.Status.CREDITED, member, result.purchase
            pending.last_error = ""
            pending.save(update_fields=["status", "member", "purchase", "last_error", "updated_at"])
    except DomainError as error:
        PendingOrder.objects.filter(pk=pending_id, status=PendingOrder.Status.PENDING).update(
            last_error=str(error.message)[:1000], updated_at=timezone.now())
        log.warning("pending order %s not credited to member %s: %s", pending_id, member.pk, error.code)
        return OrderOutcome("not_credited", created=False, order_key="", member=member, reason=error.code,
                            message=str(error.message))
    return OrderOutcome("credited", created=result.created, order_key=pending.order_key, pending=pending,
                        purchase=result.purchase, member=member, points=result.points_earned)


def pending_orders_for_member(*, member: Member) -> list[int]:
    """Ids of the brand's pending orders whose identifiers are this member's."""
    matches = Q()
    if member.line_user_id:
        matches |= Q(line_user_id=member.line_user_id)
    if member.phone:
        matches |= Q(phone=member.phone)
    email = (member.email or "").strip().lower()
    if email and Member.objects.filter(brand_id=member.brand_id, status=Member.Status.ACTIVE,
                                       email__iexact=email).count() == 1:
        matches |= Q(email=email) & (Q(integration__isnull=True) | Q(integration__match_email=True))
    if not matches:
        return []
    return list(PendingOrder.objects.filter(brand_id=member.brand_id, status=PendingOrder.Status.PENDING)
                .filter(matches).order_by("pk").values_list("pk", flat=True))


def pending_orders_credit_for_member(*, member_id: int) -> list[OrderOutcome]:
    """Credit every pending order that waited for this (now registered) member; safe to run again."""
    member = Member.objects.filter(pk=member_id, status=Member.Status.ACTIVE).first()
    if member is None:
        return []
    return [pending_order_credit(pending_id=pending_id, member=member)
            for pending_id in pending_orders_for_member(member=member)]


def order_refunded(*, brand: Brand, channel: str, order_key: str, order_id: str, refund_id: str,
                   amount: Decimal | None = None, integration: ShopIntegration | None = None,
                   source: str = PendingOrder.Source.WEBHOOK) -> OrderOutcome:
    """Reverse a refunded or cancelled order (all that is left when ``amount`` is None).

    A credited order is refunded through ``purchase_refund`` under ``refund_id`` (a replay
    returns the first refund). A pending order is cancelled (or, for a partial refund,
    remembers it for when it is credited). A full cancellation of an order never seen is
    remembered as a cancelled pending order, so a late "paid" event cannot credit it.
    Raises ``RefundExceedsTotal`` and ``IdempotencyConflict`` from the earning service.
    """
    amount = None if amount is None else Decimal(amount).quantize(CENT)
    purchase = _purchase_for(brand, channel, order_key)
    if purchase is None:
        with transaction.atomic():
            pending = (PendingOrder.objects.select_for_update()
                       .filter(brand=brand, channel=channel, order_key=order_key).first())
            if pending is None:
                if amount is not None:
                    return OrderOutcome("ignored", created=False, order_key=order_key, reason="unknown_order",
                                        message=_("No such order was paid; the partial refund changes nothing."))
                pending, created = _pending_create(
                    brand=brand, channel=channel, order_key=order_key, integration=integration, source=source,
                    order=OrderInput(order_id=order_id, total=Decimal("0"), paid_at=None, customer=Customer()),
                    status=PendingOrder.Status.CANCELLED)
                if created:
                    return OrderOutcome("cancelled", created=True, order_key=order_key, pending=pending)
                pending = PendingOrder.objects.select_for_update().get(pk=pending.pk)
            if pending.status == PendingOrder.Status.CANCELLED:
                return OrderOutcome("cancelled", created=False, order_key=order_key, pending=pending)
            if pending.status == PendingOrder.Status.PENDING:
                return _pending_refund(pending, amount=amount, refund_id=refund_id)
            purchase = pending.purchase  # credited meanwhile: refund the purchase
    try:
        result = purchase_refund(brand=brand, purchase_id=purchase.pk, amount=amount, refund_id=refund_id)
    except PurchaseAlreadyRefunded:
        return OrderOutcome("refunded", created=False, order_key=order_key, purchase=purchase,
                            member=purchase.member, message=_("Already fully refunded."))
    return OrderOutcome("refunded", created=result.created, order_key=order_key, purchase=purchase,
                        member=purchase.member, points=-result.refund.points_reversed)


def _pending_refund(pending: PendingOrder, *, amount: Decimal | None, refund_id: str) -> OrderOutcome:
    """The caller holds the pending order's row lock."""
    if any(refund["refund_id"] == refund_id for refund in pending.refunds):
        return OrderOutcome("pending", created=False, order_key=pending.order_key, pending=pending)
    if amount is None or pending.refunded_total + amount >= pending.total:
        pending.status = PendingOrder.Status.CANCELLED
        pending.save(update_fields=["status", "updated_at"])
        return OrderOutcome("cancelled", created=True, order_key=pending.order_key, pending=pending)
    pending.refunds = [*pending.refunds, {"refund_id": refund_id, "amount": str(amount)}]
    pending.save(update_fields=["refunds", "updated_at"])
    return OrderOutcome("pending", created=True, order_key=pending.order_key, pending=pending,
                        message=_("The refund will be applied when the order is credited."))


def pending_orders_sweep(*, limit: int = 1000) -> int:
    """Credit pending orders whose phone or LINE user id now belongs to a registered member.

    The safety net for a registration that raced with the order's arrival; the matching
    orders are found with one query (``EXISTS`` on the member constraints' indexes).
    Returns how many were credited.
    """
    active = Member.objects.filter(brand_id=OuterRef("brand_id"), status=Member.Status.ACTIVE)
    matched = (PendingOrder.objects.filter(status=PendingOrder.Status.PENDING)
               .filter((~Q(phone="") & Exists(active.filter(phone=OuterRef("phone"))))
                       | (~Q(line_user_id="") & Exists(active.filter(line_user_id=OuterRef("line_user_id")))))
               .select_related("brand", "integration").order_by("pk")[:limit])
    credited = 0
    for pending in matched:
        customer = Customer(phone=pending.phone, line_user_id=pending.line_user_id)
        member = member_match(brand=pending.brand, customer=customer, allow_email=False)
        if member is not None and member.status == Member.Status.ACTIVE:
            outcome = pending_order_credit(pending_id=pending.pk, member=member)
            credited += outcome.status == "credited" and outcome.created
    return credited


# --- integrations -------------------------------------------------------------------------


def shop_integration_create(*, brand: Brand, name: str, kind: str = ShopIntegration.Kind.WEBSHOP,
                            match_email: bool = True, created_by=None) -> ShopIntegration:
    """A new integration with a server-generated signing secret (show ``integration.secret`` once)."""
    return ShopIntegration.objects.create(brand=brand, name=name, kind=kind, match_email=match_email,
                                          created_by=created_by)


def shop_integration_rotate_secret(*, integration: ShopIntegration) -> str:
    """Replace the signing secret; returns the new one (to be shown once). The old one stops working at once."""
    from .models import new_secret

    secret = new_secret()
    ShopIntegration.objects.filter(pk=integration.pk).update(secret=secret, updated_at=timezone.now())
    integration.secret = secret
    return secret
