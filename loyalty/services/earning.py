"""Earning points from purchases, and reversing them on refunds.

``purchase_record`` is idempotent on ``(brand, channel, order_id)``: the unique
constraint decides concurrent replays, and every replay returns the first result.
``purchase_refund`` reverses points pro rata, never below zero; what was already spent
is recorded as a shortfall on the refund.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from psycopg.types.json import Jsonb

from config import rows
from config.domain import ValidationFailed
from loyalty import events
from loyalty.errors import IdempotencyConflict, PurchaseAlreadyRefunded, PurchaseNotFound, RefundExceedsTotal
from loyalty.models import LedgerEntry, Promotion, PromotionAward, Purchase, PurchaseLine, PurchaseRefund
from members.errors import MemberInactive
from members.models import Branch, Brand, Member

from . import earn_config
from .earn_config import EarnSetup, earn_setup
from .earn_engine import CurrencyEarn, LineInput, earn_compute
from .ledger import (
    Channel,
    Kind,
    Source,
    accounts_lock,
    lot_expiry,
    lots_expire_due,
    member_accounts_lock,
    points_post,
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class EarnedPoints:
    currency: str
    points: int
    balance: int


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    earned: list[EarnedPoints]
    created: bool

    @property
    def points_earned(self) -> int:
        return self.purchase.points_earned

    @property
    def balance(self) -> int | None:
        """Default-currency balance right after this purchase (the same on every replay)."""
        return self.purchase.balance_after


def _earn_key(purchase: Purchase, currency_label: str) -> str:
    return f"purchase:{purchase.brand_id}:{purchase.channel}:{purchase.order_id}:{currency_label}"


def _currency_labels(currencies, brand_id: int) -> dict[int, str]:
    """A label per currency for keys and refund details, distinct within one purchase.

    Codes are unique per brand only: a currency shared by another brand may have the code
    of one of the brand's own (both "points"). Such a currency is labelled
    ``code@owner-brand-id`` (``@`` is never part of a code); every other keeps its code.
    """
    currencies = list(currencies)
    own_codes = {currency.code for currency in currencies if currency.brand_id == brand_id}
    codes = [currency.code for currency in currencies]
    return {currency.pk: currency.code
            if currency.brand_id == brand_id or (currency.code not in own_codes and codes.count(currency.code) == 1)
            else f"{currency.code}@{currency.brand_id}" for currency in currencies}


def _result(purchase: Purchase, *, created: bool) -> PurchaseResult:
    entries = purchase.ledger_entries.filter(kind=Kind.EARN).select_related("account__currency").order_by("id")
    earned = [EarnedPoints(e.account.currency.code, e.amount, e.balance_after) for e in entries]
    return PurchaseResult(purchase=purchase, earned=earned, created=created)


def _check_replay(purchase: Purchase, *, member: Member, total: Decimal) -> None:
    if purchase.member_id != member.pk or purchase.total != total:
        raise IdempotencyConflict(fields={"order_id": ["This order ID was already recorded with other details."]})


def purchase_record(
    *,
    brand: Brand,
    member: Member,
    channel: str,
    order_id: str,
    total: Decimal,
    lines: list[LineInput],
    purchased_at: datetime,
    branch: Branch | None = None,
    api_key=None,
) -> PurchaseResult:
    """Record a purchase and earn its points once, in every currency the brand earns in.

    Replays of the same ``(brand, channel, order_id)`` return the first result and write
    nothing; a replay with another member or total raises ``IdempotencyConflict``.
    Inside one transaction: creates the purchase and its lines, locks the member's
    accounts of those currencies (primary-key order), computes the points with
    ``earn_engine.earn_compute`` under that lock (per-member promotion caps are
    race-free), writes one EARN entry per currency that earns (its ``details`` hold the
    structured ``explanation`` and the human ``text``) and one ``PromotionAward`` per
    promotion that gave points. Raises ``MemberInactive`` for suspended members and
    ``ValueError`` when an active rule uses another brand's unshared currency. Emits
    ``purchase_recorded``.
    """
    total = Decimal(total).quantize(CENT)
    if total < 0:
        raise ValidationFailed(fields={"total": ["Must be zero or more."]})
    if any(Decimal(line.amount) < 0 or int(line.quantity) < 1 for line in lines):
        raise ValidationFailed(fields={"lines": ["Every line needs an amount of zero or more and a quantity of "
                                                 "1 or more."]})
    if member.status == Member.Status.SUSPENDED:
        existing = Purchase.objects.filter(brand=brand, channel=channel, order_id=order_id).first()
        if existing is not None:
            _check_replay(existing, member=member, total=total)
            return _result(existing, created=False)
        raise MemberInactive()

    args = {"brand": brand, "member": member, "channel": channel, "order_id": order_id, "total": total,
            "lines": lines, "purchased_at": purchased_at, "branch": branch, "api_key": api_key}
    try:
        return _record(**args, setup=earn_setup(brand=brand, cached=True))
    except _StaleSetup:
        # A promotion this process's earn configuration snapshot still held is gone (deleted by
        # another process within the last EARN_CONFIG_TTL seconds): nothing was written; again, read fresh.
        earn_config.clear()
        return _record(**args, setup=earn_setup(brand=brand))


class _StaleSetup(Exception):
    """Raised inside the purchase's transaction (rolled back) when the cached earn configuration is stale."""


_PURCHASE = rows.Insert(Purchase)
# The purchase and its lines in one statement. The lines travel as one JSON array (amounts as
# strings, exact): psycopg dumps it with one json.dumps, where four typed arrays cost it a Python
# scan of every list per request.
_PURCHASE_SQL = (
    f"WITH purchase AS (INSERT INTO {_PURCHASE.table} ({_PURCHASE.columns}) VALUES ({_PURCHASE.placeholders}) "  # noqa: S608 - model metadata
    "RETURNING id), "
    f'lines AS (INSERT INTO "{PurchaseLine._meta.db_table}" (purchase_id, sku, category, quantity, amount) '
    "SELECT purchase.id, line.sku, line.category, line.quantity, line.amount FROM purchase, "
    "jsonb_to_recordset(%s::jsonb) AS line(sku varchar, category varchar, quantity integer, amount numeric)) "
    "SELECT id FROM purchase"
)


def _purchase_insert(purchase: Purchase, lines: list[LineInput]) -> Purchase:
    """Insert the purchase and its lines; the unique ``(brand, channel, order_id)`` refuses a replay."""
    lines_json = Jsonb([{"sku": line.sku, "category": line.category, "quantity": int(line.quantity),
                         "amount": str(Decimal(line.amount).quantize(CENT))} for line in lines])
    with rows.cursor() as cursor:
        cursor.execute(_PURCHASE_SQL, [*_PURCHASE.params(purchase), lines_json])
        purchase_id = cursor.fetchone()[0]
    return rows.Insert.saved(purchase, purchase_id)


def _record(*, brand: Brand, member: Member, channel: str, order_id: str, total: Decimal, lines: list[LineInput],
            purchased_at: datetime, branch: Branch | None, api_key, setup: EarnSetup) -> PurchaseResult:
    # A new order is the usual case: no read first. A replay fails the unique (brand, channel,
    # order_id) insert below and is answered from the first purchase in the IntegrityError branch.
    # The accounts are locked and the points computed first, so the purchase row is written once,
    # with its points and balance, and then the entries that name it.
    try:
        with transaction.atomic(), events.batched():
            currencies = setup.currencies
            labels = _currency_labels(currencies, brand.pk)
            locked = member_accounts_lock(member=member, currencies=currencies)
            results = earn_compute(brand=brand, member=member, channel=channel, branch=branch, total=total,
                                   lines=lines, at=purchased_at, setup=setup) if currencies else []
            earning = []  # (result, account) per currency that earns
            points_earned, balance_after = 0, None
            for result in results:
                account = locked[result.currency.pk]
                if result.currency.is_default and result.currency.brand_id == brand.pk:
                    points_earned = max(result.points, 0)
                    balance_after = account.balance + points_earned
                if result.points > 0:
                    earning.append((result, account))
            if setup.read_at is not None:  # a cached snapshot: the promotions it awards must still exist
                given = {award.promotion.pk for result, _account in earning for award in result.awards}
                if given and Promotion.objects.filter(pk__in=given).count() != len(given):
                    raise _StaleSetup()
            purchase = _purchase_insert(Purchase(
                brand=brand, branch=branch, member=member, channel=channel, order_id=order_id, total=total,
                purchased_at=purchased_at, api_key=api_key, points_earned=points_earned, balance_after=balance_after,
            ), lines)
            earned, awards = [], []
            for result, account in earning:
                currency = result.currency
                entry = points_post(
                    account=account,
                    amount=result.points,
                    kind=Kind.EARN,
                    idempotency_key=_earn_key(purchase, labels[currency.pk]),
                    source=Source(channel=channel, purchase=purchase, reference=order_id,
                                  details=_earn_details(result)),
                    expires_at=lot_expiry(currency=currency, earned_at=purchased_at),
                    account_locked=True,
                    new_key=True,  # the key names the purchase this transaction just inserted
                )
                earned.append(EarnedPoints(currency.code, entry.amount, entry.balance_after))
                awards += [PromotionAward(promotion=award.promotion, member=member, purchase=purchase,
                                          points=award.points, awarded_at=purchased_at) for award in result.awards]
            if awards:
                PromotionAward.objects.bulk_create(awards)
            events.emit(events.PURCHASE_RECORDED, purchase_id=purchase.pk, member_id=member.pk)
    except IntegrityError:
        existing = Purchase.objects.filter(brand=brand, channel=channel, order_id=order_id).first()
        if existing is None:
            raise
        _check_replay(existing, member=member, total=total)
        return _result(existing, created=False)
    return PurchaseResult(purchase=purchase, earned=earned, created=True)


def _earn_details(result: CurrencyEarn) -> dict:
    return {"explanation": result.explanation, "text": [str(line) for line in result.text],
            "base": result.base_points, "tier": result.tier_points, "bonus": result.bonus_points,
            "promotions": [{"promotion": award.promotion.pk, "points": award.points} for award in result.awards]}


def _next_refund_id(purchase: Purchase) -> str:
    """``auto-N``: the first number no refund of this purchase uses (client ids may look alike)."""
    taken = set(purchase.refunds.values_list("refund_id", flat=True))
    number = len(taken) + 1
    while f"auto-{number}" in taken:
        number += 1
    return f"auto-{number}"


@dataclass(frozen=True)
class RefundResult:
    refund: PurchaseRefund
    created: bool


def purchase_refund(
    *, brand: Brand, purchase_id: int, amount: Decimal | None = None, refund_id: str | None = None,
    branch: Branch | None = None,
) -> RefundResult:
    """Refund ``amount`` THB of a purchase (all that is left when omitted).

    Locks the purchase, then each account. Points are reversed pro rata to the refunded
    share of the total (cumulative, rounded down, exact at a full refund), taken first
    from the purchase's own lot. Points of that lot that already expired are gone and are
    not taken again from other lots (recorded as ``expired``); what the member already
    spent is recorded as ``points_shortfall``, never taken below zero. A repeated
    ``refund_id`` returns the first refund. With ``branch``, only that branch's purchases
    are found. Raises ``PurchaseNotFound``, ``PurchaseAlreadyRefunded``,
    ``RefundExceedsTotal``.
    """
    with transaction.atomic(), events.batched():
        purchases = Purchase.objects.select_for_update().filter(brand=brand, pk=purchase_id)
        if branch is not None:
            purchases = purchases.filter(branch=branch)
        purchase = purchases.first()
        if purchase is None:
            raise PurchaseNotFound()
        if refund_id:
            previous = purchase.refunds.filter(refund_id=refund_id).first()
            if previous is not None:
                if amount is not None and Decimal(amount).quantize(CENT) != previous.amount:
                    raise IdempotencyConflict(fields={"refund_id": ["Already used with another amount."]})
                return RefundResult(previous, created=False)
        left = purchase.total - purchase.refunded_total
        if left <= 0:
            raise PurchaseAlreadyRefunded()
        amount = left if amount is None else Decimal(amount).quantize(CENT)
        if amount <= 0:
            raise ValidationFailed(fields={"amount": ["Must be more than zero."]})
        if amount > left:
            raise RefundExceedsTotal(fields={"amount": [f"At most {left} THB can still be refunded."]})
        refund_id = refund_id or _next_refund_id(purchase)
        refunded_after = purchase.refunded_total + amount

        details, reversed_default, shortfall_default = {}, 0, 0
        earn_entries = list(purchase.ledger_entries.filter(kind=Kind.EARN).select_related("account__currency", "lot")
                            .order_by("account_id"))
        locked = accounts_lock(earn.account_id for earn in earn_entries)
        previous = list(purchase.refunds.all())
        labels = _currency_labels((earn.account.currency for earn in earn_entries), purchase.brand_id)
        for earn in earn_entries:
            code = labels[earn.account.currency_id]
            account = locked[earn.account_id]
            lots_expire_due(account)
            already = sum(r.details.get(code, {}).get("target", 0) for r in previous)
            cumulative = int((Decimal(earn.amount) * refunded_after / purchase.total).to_integral_value(ROUND_FLOOR))
            target = cumulative - already
            # Points of this purchase that expired are gone already: never take them again from other lots.
            expired_own = earn.lot.allocations.filter(entry__kind=Kind.EXPIRE).aggregate(total=Sum("amount"))["total"]
            expired_counted = sum(r.details.get(code, {}).get("expired", 0) for r in previous)
            expired = min(target, (expired_own or 0) - expired_counted)
            reversed_points = min(target - expired, account.balance)
            if reversed_points > 0:
                points_post(
                    account=account,
                    amount=-reversed_points,
                    kind=Kind.REVERSE,
                    idempotency_key=f"refund:{purchase.pk}:{refund_id}:{code}",
                    source=Source(channel=purchase.channel, purchase=purchase, reverses=earn,
                                  reference=f"{purchase.order_id} / {refund_id}"),
                    prefer_lot=earn.lot,
                )
            shortfall = target - expired - reversed_points
            details[code] = {"target": target, "expired": expired, "reversed": reversed_points, "shortfall": shortfall}
            if earn.account.currency.is_default and earn.account.currency.brand_id == purchase.brand_id:
                reversed_default += reversed_points
                shortfall_default += shortfall

        purchase.refunded_total = refunded_after
        purchase.status = (
            Purchase.Status.REFUNDED if refunded_after == purchase.total else Purchase.Status.PARTIALLY_REFUNDED
        )
        refund = PurchaseRefund.objects.create(
            purchase=purchase, refund_id=refund_id, amount=amount, refunded_total_after=refunded_after,
            purchase_status_after=purchase.status, points_reversed=reversed_default,
            points_shortfall=shortfall_default, details=details,
        )
        purchase.save(update_fields=["refunded_total", "status", "updated_at"])
        events.emit(events.PURCHASE_REFUNDED, purchase_id=purchase.pk, refund_id=refund.pk)
    return RefundResult(refund, created=True)


__all__ = ["Channel", "LedgerEntry", "LineInput", "PurchaseResult", "points_preview", "purchase_record",
           "purchase_refund"]


def points_preview(*, brand: Brand, total: Decimal, branch: Branch | None = None, channel: str = Channel.CASHIER,
                   member: Member | None = None, lines: list[LineInput] | None = None,
                   at: datetime | None = None) -> list[tuple]:
    """``(currency, points)`` a bill of ``total`` THB would earn (now, at the cashier by default).

    The same engine as ``purchase_record`` (``earn_engine.earn_compute``); writes nothing.
    """
    results = earn_compute(brand=brand, member=member, channel=channel, branch=branch, total=total,
                           lines=lines or [], at=at or timezone.now())
    return [(result.currency, result.points) for result in results]
