"""Marketplace order imports: upload, then a worker applies each order in batches.

``order_import_create`` checks the file (type by content, size, the marketplace's
columns) and stores it; the Celery task ``process_order_import`` is queued after commit.
``order_import_process`` may run more than once for the same import (a retried task, a
redelivered message): it resumes after the orders already reported; each order is
applied through the idempotent order services in one transaction with its report row
(unique per ``(import, row_number)``); the counters are recomputed from the rows after
every batch. Importing the same file again, or an overlapping one, credits nothing twice:
purchases are keyed ``"<marketplace>:<order id>"`` on the ``marketplace`` channel.
"""

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.domain import DomainError, ValidationFailed
from loyalty.models import Purchase
from loyalty.services.earning import purchase_refund
from members.models import Brand, Member

from . import parsers
from .models import Marketplace, OrderImport, OrderImportRow, PendingOrder, ShopIntegration
from .services import Customer, OrderInput, order_channel_and_key, order_paid, order_refunded

log = logging.getLogger(__name__)
BATCH_SIZE = 200
Row = OrderImportRow.Status


@dataclass(frozen=True)
class FileCheck:
    orders: int
    data_rows: int
    columns: dict[str, str]


def order_file_check(*, marketplace: str, data: bytes) -> FileCheck:
    """Read the whole file as the worker will; raises ``ValidationFailed`` naming what is wrong."""
    if marketplace not in Marketplace.values:
        raise ValidationFailed(fields={"marketplace": [_("Choose Shopee, Lazada or TikTok Shop.")]})
    if not data:
        raise ValidationFailed(fields={"file": [_("The file is empty.")]})
    parsed = parsers.orders_parse(data, marketplace)
    if not parsed.orders:
        raise ValidationFailed(fields={"file": [_("The file has no order rows.")]})
    return FileCheck(orders=len(parsed.orders), data_rows=parsed.data_rows, columns=parsed.columns)


def order_import_create(*, brand: Brand, marketplace: str, data: bytes, filename: str,
                        integration: ShopIntegration | None = None, created_by=None) -> OrderImport:
    """Store an uploaded export and queue its processing (after commit)."""
    if integration is not None and (integration.brand_id != brand.pk or integration.kind != marketplace):
        raise ValidationFailed(fields={"integration": [_("Choose a store of this brand on this marketplace.")]})
    check = order_file_check(marketplace=marketplace, data=data)
    from .tasks import process_order_import

    with transaction.atomic():
        order_import = OrderImport(brand=brand, marketplace=marketplace, integration=integration,
                                   original_name=filename[-255:], sha256=hashlib.sha256(data).hexdigest(),
                                   total_rows=check.orders, created_by=created_by)
        order_import.file.save(filename[-80:] or "orders", ContentFile(data), save=False)
        order_import.save()
        transaction.on_commit(lambda: process_order_import.delay(order_import.pk))
    return order_import


def order_import_previous(*, order_import: OrderImport) -> OrderImport | None:
    """An earlier import of the very same file for this brand (re-importing it is harmless, but staff should know)."""
    return (OrderImport.objects.filter(brand_id=order_import.brand_id, sha256=order_import.sha256,
                                       pk__lt=order_import.pk).order_by("-pk").first())


def order_import_process(*, import_id: int) -> OrderImport | None:
    """Apply every order of the import not reported yet, in batches; idempotent and resumable."""
    claimed = OrderImport.objects.filter(pk=import_id, status__in=[OrderImport.Status.QUEUED,
                                                                   OrderImport.Status.RUNNING]).update(
        status=OrderImport.Status.RUNNING, started_at=timezone.now(), updated_at=timezone.now())
    if not claimed:
        return OrderImport.objects.filter(pk=import_id).first()
    order_import = OrderImport.objects.select_related("brand", "integration").get(pk=import_id)
    try:
        with order_import.file.open("rb") as handle:
            data = handle.read()
        parsed = parsers.orders_parse(data, order_import.marketplace)
    except (OSError, DomainError) as error:
        message = str(error.fields or getattr(error, "message", error)) if isinstance(error, DomainError) else str(error)
        OrderImport.objects.filter(pk=import_id).update(status=OrderImport.Status.FAILED, error=message[:2000],
                                                        finished_at=timezone.now(), updated_at=timezone.now())
        log.warning("order import %s failed to read: %s", import_id, message)
        return OrderImport.objects.get(pk=import_id)
    OrderImport.objects.filter(pk=import_id).update(total_rows=len(parsed.orders))
    done = set(OrderImportRow.objects.filter(order_import_id=import_id).values_list("row_number", flat=True))
    todo = [order for order in parsed.orders if order.row_number not in done]
    for start in range(0, len(todo), BATCH_SIZE):
        for order in todo[start:start + BATCH_SIZE]:
            # The order's effect and its report row commit together: a crash never loses the report of
            # an order that was applied, so the resumed run reports each order once, with what it did.
            with transaction.atomic():
                OrderImportRow.objects.bulk_create([_apply(order_import, order)], ignore_conflicts=True)
        _refresh_counts(import_id)
    _refresh_counts(import_id)
    OrderImport.objects.filter(pk=import_id).update(status=OrderImport.Status.DONE, finished_at=timezone.now(),
                                                    updated_at=timezone.now())
    return OrderImport.objects.get(pk=import_id)


def order_import_fail(*, import_id: int, error: Exception) -> None:
    """Mark a running import failed (what was reported stays; processing it again resumes after it)."""
    log.exception("order import %s failed", import_id, exc_info=error)
    _refresh_counts(import_id)
    OrderImport.objects.filter(pk=import_id, status__in=[OrderImport.Status.QUEUED, OrderImport.Status.RUNNING]).update(
        status=OrderImport.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now(),
        updated_at=timezone.now())


def order_import_retry(*, order_import: OrderImport) -> bool:
    """Queue a failed import again; it resumes after the orders already reported. False if it had not failed."""
    from .tasks import process_order_import

    with transaction.atomic():
        queued = OrderImport.objects.filter(pk=order_import.pk, status=OrderImport.Status.FAILED).update(
            status=OrderImport.Status.QUEUED, error="", finished_at=None, updated_at=timezone.now())
        if queued:
            transaction.on_commit(lambda: process_order_import.delay(order_import.pk))
    return bool(queued)


COUNTERS = {"credited_count": Row.CREDITED, "duplicate_count": Row.DUPLICATE, "reversed_count": Row.REVERSED,
            "pending_count": Row.PENDING, "skipped_count": Row.SKIPPED, "failed_count": Row.FAILED}


def _refresh_counts(import_id: int) -> None:
    """Counters from the report rows (one aggregate): exact however often a batch ran."""
    counts = OrderImportRow.objects.filter(order_import_id=import_id).aggregate(
        processed_rows=Count("pk"), **{name: Count("pk", filter=Q(status=status)) for name, status in COUNTERS.items()})
    OrderImport.objects.filter(pk=import_id).update(**counts, updated_at=timezone.now())


def _report(order_import: OrderImport, order: parsers.ParsedOrder, status: str, message: str = "",
            member: Member | None = None, points: int = 0) -> OrderImportRow:
    if len(order.row_numbers) > 1:
        rows = _("Rows %(rows)s.") % {"rows": order.rows_label}
        message = f"{rows} {message}".strip()
    return OrderImportRow(order_import=order_import, row_number=order.row_number, order_id=order.order_id[:100],
                          status=status, message=message[:500], member=member, points=points)


def _apply(order_import: OrderImport, order: parsers.ParsedOrder) -> OrderImportRow:
    """One order: earn, reverse or skip, with the reason; a domain error fails this order only."""
    if order.problem:
        return _report(order_import, order, Row.FAILED, order.problem)
    try:
        if order.state == parsers.REVERSE:
            return _apply_reverse(order_import, order)
        if order.state == parsers.EARN:
            return _apply_earn(order_import, order)
    except DomainError as error:
        return _report(order_import, order, Row.FAILED, str(error.message))
    return _report(order_import, order, Row.SKIPPED,
                   _("Status “%(status)s” does not earn (yet): only completed orders earn. Import a later export "
                     "again.") % {"status": order.raw_status or "—"})


def _apply_reverse(order_import: OrderImport, order: parsers.ParsedOrder) -> OrderImportRow:
    channel, key = order_channel_and_key(integration=order_import.integration, marketplace=order_import.marketplace,
                                         order_id=order.order_id)
    outcome = order_refunded(brand=order_import.brand, channel=channel, order_key=key, order_id=order.order_id,
                             refund_id="import:cancelled", integration=order_import.integration,
                             source=PendingOrder.Source.IMPORT)
    status_text = order.raw_status or "—"
    if outcome.status == "refunded" and outcome.created:
        return _report(order_import, order, Row.REVERSED,
                       _("“%(status)s”: %(points)d points reversed.") % {"status": status_text,
                                                                          "points": -outcome.points},
                       member=outcome.member, points=outcome.points)
    if outcome.status == "refunded":
        return _report(order_import, order, Row.DUPLICATE, _("“%(status)s”: already reversed.")
                       % {"status": status_text}, member=outcome.member)
    if outcome.status == "cancelled" and outcome.created and outcome.pending.total > 0:
        return _report(order_import, order, Row.REVERSED,
                       _("“%(status)s”: the pending order was cancelled.") % {"status": status_text})
    return _report(order_import, order, Row.SKIPPED,
                   _("“%(status)s”: nothing was credited for this order.") % {"status": status_text})


def _apply_earn(order_import: OrderImport, order: parsers.ParsedOrder) -> OrderImportRow:
    brand = order_import.brand
    channel, key = order_channel_and_key(integration=order_import.integration, marketplace=order_import.marketplace,
                                         order_id=order.order_id)
    total = order.total or Decimal("0.00")
    purchase = Purchase.objects.filter(brand=brand, channel=channel, order_id=key).select_related("member").first()
    if purchase is not None:
        return _reconcile(order_import, order, purchase, total)
    if total <= 0:
        return _report(order_import, order, Row.SKIPPED, _("The order total is zero."))
    customer = Customer(phone=order.phone, email=order.email)
    if customer.is_empty:
        reason = order.identifier_note or _("the file has no buyer phone or e-mail")
        return _report(order_import, order, Row.SKIPPED,
                       _("No usable buyer identifier: %(reason)s.") % {"reason": reason})
    allow_email = order_import.integration.match_email if order_import.integration else True
    outcome = order_paid(brand=brand, channel=channel, order_key=key, integration=order_import.integration,
                         source=PendingOrder.Source.IMPORT, allow_email=allow_email,
                         order=OrderInput(order_id=order.order_id, total=total,
                                          paid_at=order.purchased_at or order_import.created_at,
                                          customer=customer, lines=order.lines))
    who = customer.phone or customer.email
    if outcome.status == "credited":
        status = Row.CREDITED if outcome.created else Row.DUPLICATE
        message = (_("%(points)d points to %(member)s.") if outcome.created else
                   _("Already credited (%(points)d points to %(member)s).")) % {"points": outcome.points,
                                                                                  "member": outcome.member}
        return _report(order_import, order, status, message, member=outcome.member,
                       points=outcome.points if outcome.created else 0)
    if outcome.status == "pending":
        return _report(order_import, order, Row.PENDING,
                       _("No member with %(who)s yet: credited when they register.") % {"who": who})
    if outcome.status == "cancelled":
        return _report(order_import, order, Row.SKIPPED, _("The order was cancelled earlier."))
    return _report(order_import, order, Row.SKIPPED, outcome.message or outcome.reason, member=outcome.member)


def _reconcile(order_import: OrderImport, order: parsers.ParsedOrder, purchase: Purchase,
               total: Decimal) -> OrderImportRow:
    """An order credited before: reverse what the marketplace refunded since (the earning total went down)."""
    left = purchase.total - purchase.refunded_total
    if total < left:
        result = purchase_refund(brand=order_import.brand, purchase_id=purchase.pk, amount=left - total,
                                 refund_id=f"import:to:{total}")
        if result.created:
            return _report(order_import, order, Row.REVERSED,
                           _("Partly refunded: %(points)d points reversed (now %(total)s THB).")
                           % {"points": result.refund.points_reversed, "total": total},
                           member=purchase.member, points=-result.refund.points_reversed)
    return _report(order_import, order, Row.DUPLICATE,
                   _("Already credited (%(points)d points to %(member)s).") % {"points": purchase.points_earned,
                                                                                "member": purchase.member},
                   member=purchase.member)
