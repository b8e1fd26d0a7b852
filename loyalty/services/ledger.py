"""The one write path of the points ledger.

Contract of ``points_post`` (ARCHITECTURE.md, "The ledger"):

1. If ``(brand, idempotency_key)`` is known, return that entry and write nothing.
2. Open a transaction (a savepoint when the caller already holds one) and lock the
   account row (``SELECT ... FOR UPDATE``).
3. Check the key again under the lock; for a debit, first expire the account's lots that
   are past due, then check funds.
4. Write the entry, open a lot (credit) or consume lots earliest-expiry-first (debit),
   and move the cached balance with ``F()``.
5. If a concurrent call with the same key won the unique constraint, return its entry.

Callers that must lock several rows lock the purchase/reward row first, then the
account, and never call the network inside the transaction.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import rows
from config.domain import ValidationFailed
from loyalty import events
from loyalty.errors import IdempotencyConflict, InsufficientPoints
from loyalty.models import LedgerEntry, LotAllocation, PointAccount, PointCurrency, PointLot

Kind = LedgerEntry.Kind
Channel = LedgerEntry.Channel


@dataclass(frozen=True)
class Source:
    """Where a ledger entry comes from; stored on the entry for audit."""

    channel: str
    purchase: object | None = None
    redemption: object | None = None
    staff_user: object | None = None
    reverses: LedgerEntry | None = None
    reason: str = ""
    reference: str = ""
    details: dict = field(default_factory=dict)


BANGKOK = ZoneInfo("Asia/Bangkok")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lot_expiry(*, currency: PointCurrency, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` expire under the currency's policy (None: never).

    Points are valid through the last valid day and expire at the following midnight,
    Bangkok time: N days or N months after the day earned (a month end clamps: 31 Jan + 1
    month is 28/29 Feb), or 31 December of the year earned plus N.
    """
    policy = currency.expiry_policy
    if policy == PointCurrency.ExpiryPolicy.NEVER:
        return None
    earned_on = timezone.localtime(earned_at, BANGKOK).date()
    if policy == PointCurrency.ExpiryPolicy.DAYS:
        last_day = earned_on + timedelta(days=currency.expiry_period)
    elif policy == PointCurrency.ExpiryPolicy.MONTHS:
        last_day = add_months(earned_on, currency.expiry_period)
    else:
        last_day = date(earned_on.year + currency.expiry_period, 12, 31)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=BANGKOK)


def currency_usable_by(currency: PointCurrency, brand_id: int) -> bool:
    """The owning brand and the brands it shares the currency with earn and spend it."""
    return currency.brand_id == brand_id or currency.shared_with.filter(pk=brand_id).exists()


def account_get_or_create(*, member, currency: PointCurrency) -> PointAccount:
    if currency.brand_id != member.brand_id and not currency_usable_by(currency, member.brand_id):
        raise ValueError(f"currency {currency.pk} belongs to another brand and is not shared with member {member.pk}'s")
    account, _created = PointAccount.objects.get_or_create(
        member=member, currency=currency, defaults={"brand_id": member.brand_id}
    )
    return account


def accounts_lock(account_ids) -> dict[int, PointAccount]:
    """Lock several accounts in primary-key order (the one order every path uses: no deadlock)."""
    locked = PointAccount.objects.select_for_update().filter(pk__in=set(account_ids)).order_by("pk")
    return {account.pk: account for account in locked}


# Every earn locks the member's accounts: the statement is compiled once.
_MEMBER_ACCOUNTS_LOCKED = rows.Rows(PointAccount, where="t.member_id = %s AND t.currency_id = ANY(%s)",
                                    order_by="t.id", lock=True)
# The usual brand earns in one currency: a scalar parameter (a list costs psycopg a Python scan per call).
_MEMBER_ACCOUNT_LOCKED = rows.Rows(PointAccount, where="t.member_id = %s AND t.currency_id = %s", lock=True)


def member_accounts_lock(*, member, currencies) -> dict[int, PointAccount]:
    """Lock the member's accounts of ``currencies`` in primary-key order; returns them by currency id.

    Call inside a transaction. One ``SELECT ... FOR UPDATE`` when every account exists (the usual
    case); otherwise the missing ones are created first (``account_get_or_create``, which checks
    the currency may be used) and all are locked in primary-key order as ``accounts_lock`` does.
    """
    currency_ids = {currency.pk for currency in currencies}
    if not currency_ids:
        return {}
    if len(currency_ids) == 1:
        locked = _MEMBER_ACCOUNT_LOCKED.all([member.pk, next(iter(currency_ids))])
    else:
        locked = _MEMBER_ACCOUNTS_LOCKED.all([member.pk, sorted(currency_ids)])
    if len(locked) == len(currency_ids):
        return {account.currency_id: account for account in locked}
    accounts = [account_get_or_create(member=member, currency=currency) for currency in currencies]
    locked_by_pk = accounts_lock(account.pk for account in accounts)
    return {account.currency_id: locked_by_pk[account.pk] for account in accounts}


def _existing_entry(brand_id: int, idempotency_key: str, *, account: PointAccount | None = None,
                    amount: int | None = None) -> LedgerEntry | None:
    """The entry already written under this key; a key reused for another account or amount is a conflict."""
    entry = LedgerEntry.objects.filter(brand_id=brand_id, idempotency_key=idempotency_key).first()
    if entry is not None and account is not None and (entry.account_id, entry.amount) != (account.pk, amount):
        raise IdempotencyConflict(fields={"idempotency_key": [f"{idempotency_key} was used for another entry."]})
    return entry


def points_post(
    *,
    account: PointAccount,
    amount: int,
    kind: str,
    idempotency_key: str,
    source: Source,
    expires_at: datetime | None = None,
    prefer_lot: PointLot | None = None,
    account_locked: bool = False,
    new_key: bool = False,
) -> LedgerEntry:
    """Credit (``amount > 0``) or debit (``amount < 0``) ``account`` exactly once per key.

    Locks the account row. Raises ``InsufficientPoints`` (nothing written) when a debit
    exceeds the balance. A debit consumes ``prefer_lot`` first when given, then lots by
    earliest expiry. Returns the entry (the first one when the key was already used).

    ``account_locked=True``: the caller already holds ``SELECT ... FOR UPDATE`` on this row in
    the current transaction and passes that instance (its ``balance`` is current and is kept
    current). The row is not locked again and the key is checked once, under that lock.

    ``new_key=True`` (a credit on a locked account only): the caller knows no entry can hold the
    key yet, because it derives it from a row its own transaction just inserted under a unique
    constraint (a purchase's earn). The key is not looked up and no savepoint is taken; the
    entries' unique key still refuses a duplicate, and then the caller's whole transaction fails.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError("amount must be a non-zero integer")
    if new_key:
        if not account_locked or amount < 0:
            raise ValueError("new_key=True is for credits on an account the caller holds locked")
        _require_callers_transaction()
        return _write(account, amount=amount, kind=kind, idempotency_key=idempotency_key, source=source,
                      expires_at=expires_at)
    if account_locked:
        return _post_locked(account, amount=amount, kind=kind, idempotency_key=idempotency_key, source=source,
                            expires_at=expires_at, prefer_lot=prefer_lot)
    existing = _existing_entry(account.brand_id, idempotency_key, account=account, amount=amount)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            locked = PointAccount.objects.select_for_update().get(pk=account.pk)
            entry, written = _post_under_lock(locked, amount=amount, kind=kind, idempotency_key=idempotency_key,
                                              source=source, expires_at=expires_at, prefer_lot=prefer_lot)
            if not written:
                return entry
    except IntegrityError:
        existing = _existing_entry(account.brand_id, idempotency_key, account=account, amount=amount)
        if existing is None:
            raise
        return existing
    account.balance = entry.balance_after
    return entry


def _require_callers_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_locked=True needs the caller's transaction holding the account lock")


def _post_locked(locked: PointAccount, *, amount: int, kind: str, idempotency_key: str, source: Source,
                 expires_at: datetime | None, prefer_lot: PointLot | None) -> LedgerEntry:
    """``points_post`` on an account the caller holds locked: steps 3 to 5 of the contract."""
    _require_callers_transaction()
    balance = locked.balance
    try:
        with transaction.atomic():  # a savepoint: a lost race on the key leaves the caller's transaction usable
            return _post_under_lock(locked, amount=amount, kind=kind, idempotency_key=idempotency_key,
                                    source=source, expires_at=expires_at, prefer_lot=prefer_lot)[0]
    except IntegrityError:
        locked.balance = balance
        existing = _existing_entry(locked.brand_id, idempotency_key, account=locked, amount=amount)
        if existing is None:
            raise
        return existing
    except BaseException:
        locked.balance = balance  # nothing was written: the instance keeps the balance of the row
        raise


def _post_under_lock(locked: PointAccount, *, amount: int, kind: str, idempotency_key: str, source: Source,
                     expires_at: datetime | None, prefer_lot: PointLot | None) -> tuple[LedgerEntry, bool]:
    """Steps 3 to 5 on a locked account: the key checked again, due lots expired before a debit,
    the balance checked, the entry written. Returns ``(entry, written)``; not written: the key's
    earlier entry."""
    existing = _existing_entry(locked.brand_id, idempotency_key, account=locked, amount=amount)
    if existing is not None:
        return existing, False
    if amount < 0:
        lots_expire_due(locked)
        if locked.balance < -amount:
            raise InsufficientPoints(balance=locked.balance, required=-amount)
    return _write(locked, amount=amount, kind=kind, idempotency_key=idempotency_key, source=source,
                  expires_at=expires_at, prefer_lot=prefer_lot), True


_ENTRY = rows.Insert(LedgerEntry)
# A credit's three writes in one statement: the entry, its lot, the cached balance. The account's
# new balance comes back to be checked against the entry's balance_after (the lock held makes them
# equal; if they ever differ the transaction fails instead of writing a ledger that does not add up).
_CREDIT_SQL = (
    f"WITH entry AS (INSERT INTO {_ENTRY.table} ({_ENTRY.columns}) VALUES ({_ENTRY.placeholders}) RETURNING id), "  # noqa: S608 - model metadata
    f'lot AS (INSERT INTO "{PointLot._meta.db_table}" (entry_id, account_id, amount, remaining, expires_at, created_at) '
    "SELECT entry.id, %s::bigint, %s::bigint, %s::bigint, %s::timestamptz, %s::timestamptz FROM entry RETURNING id), "
    f'account AS (UPDATE "{PointAccount._meta.db_table}" SET balance = balance + %s, updated_at = %s WHERE id = %s '
    "RETURNING balance) "
    "SELECT entry.id, account.balance FROM entry, lot, account"
)


def _write(locked: PointAccount, *, amount: int, kind: str, idempotency_key: str, source: Source,
           expires_at: datetime | None, prefer_lot: PointLot | None = None) -> LedgerEntry:
    """Write one entry on an account the caller has locked; keeps all three invariants."""
    locked.balance += amount
    entry = LedgerEntry(
        brand_id=locked.brand_id,
        account=locked,
        kind=kind,
        channel=source.channel,
        amount=amount,
        balance_after=locked.balance,
        idempotency_key=idempotency_key,
        purchase=source.purchase,
        redemption=source.redemption,
        staff_user=source.staff_user,
        reverses=source.reverses,
        reason=source.reason,
        reference=source.reference[:200],
        details=source.details,
        expires_at=expires_at if amount > 0 else None,
    )
    if amount > 0:
        params = _ENTRY.params(entry)
        now = timezone.now()
        with rows.cursor() as cursor:
            cursor.execute(_CREDIT_SQL, [*params, locked.pk, amount, amount, expires_at, now, amount, now, locked.pk])
            row = cursor.fetchone()
        if row is None or row[1] != locked.balance:
            raise RuntimeError(f"account {locked.pk}: balance {row and row[1]} after the credit, "
                               f"the entry says {locked.balance}")
        rows.Insert.saved(entry, row[0])
    else:
        entry.save(force_insert=True)
        _consume_lots(locked, entry, -amount, prefer_lot)
        PointAccount.objects.filter(pk=locked.pk).update(balance=F("balance") + amount, updated_at=timezone.now())
    events.emit(events.POINTS_POSTED, entry_id=entry.pk, account_id=locked.pk, amount=amount, kind=kind)
    return entry


def _open_lots(account: PointAccount, prefer_lot: PointLot | None = None):
    lots = PointLot.objects.select_for_update().filter(account=account, remaining__gt=0)
    ordering = [F("expires_at").asc(nulls_last=True), "id"]
    if prefer_lot is not None:
        lots = lots.annotate(
            preferred=Case(When(pk=prefer_lot.pk, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        ordering.insert(0, "preferred")
    return lots.order_by(*ordering)


def _consume_lots(account: PointAccount, entry: LedgerEntry, points: int, prefer_lot: PointLot | None) -> None:
    allocations = []
    for lot in _open_lots(account, prefer_lot):
        if points == 0:
            break
        take = min(lot.remaining, points)
        points -= take
        allocations.append(LotAllocation(entry=entry, lot=lot, amount=take))
        PointLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
    if points:
        # balance == sum(lot.remaining) is an invariant; reaching here means it broke.
        raise RuntimeError(f"account {account.pk}: lots do not cover the balance")
    LotAllocation.objects.bulk_create(allocations)


def expire_key(account_id: int, first_lot_id: int) -> str:
    """One expire entry per account and run, named by the first lot it closes (a lot closes once)."""
    return f"expire:{account_id}:{first_lot_id}"


def lots_expire_due(locked: PointAccount, now: datetime | None = None) -> LedgerEntry | None:
    """Expire every lot of ``locked`` whose expiry has passed, as one expire entry.

    The caller holds ``SELECT ... FOR UPDATE`` on the account (and passes that instance,
    whose ``balance`` this keeps current). The nightly job
    (``loyalty.services.expiry``) writes the same entry set-based for many accounts.
    """
    now = now or timezone.now()
    due = list(
        PointLot.objects.select_for_update()
        .filter(account=locked, remaining__gt=0, expires_at__lte=now)
        .order_by("id")
    )
    if not due:
        return None
    points = sum(lot.remaining for lot in due)
    locked.balance -= points
    entry = LedgerEntry.objects.create(
        brand_id=locked.brand_id, account=locked, kind=Kind.EXPIRE, channel=Channel.SYSTEM, amount=-points,
        balance_after=locked.balance, idempotency_key=expire_key(locked.pk, due[0].pk),
        reference=f"{len(due)} lot(s)", details={"lots": [lot.pk for lot in due]},
    )
    LotAllocation.objects.bulk_create(LotAllocation(entry=entry, lot=lot, amount=lot.remaining) for lot in due)
    PointLot.objects.filter(pk__in=[lot.pk for lot in due]).update(remaining=0)
    PointAccount.objects.filter(pk=locked.pk).update(balance=F("balance") - points, updated_at=timezone.now())
    events.emit(events.POINTS_POSTED, entry_id=entry.pk, account_id=locked.pk, amount=-points, kind=Kind.EXPIRE)
    return entry


def points_expire_account(*, account: PointAccount, now: datetime | None = None) -> int:
    """Expire the account's due lots; returns the points expired. Locks the account."""
    with transaction.atomic():
        locked = PointAccount.objects.select_for_update().get(pk=account.pk)
        before = locked.balance
        lots_expire_due(locked, now)
    return before - locked.balance


FORM_REUSED = _("This form was already submitted with other values; reload it to adjust again.")


def points_adjust(*, account: PointAccount, amount: int, staff_user, reason: str, request_key: str) -> LedgerEntry:
    """A staff correction: positive or negative, with a required reason, audited with the user."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": [str(_("A reason is required."))]})
    try:
        entry = points_post(
            account=account,
            amount=amount,
            kind=Kind.ADJUST,
            idempotency_key=f"adjust:{account.pk}:{request_key}",
            source=Source(channel=Channel.STAFF, staff_user=staff_user, reason=reason),
            expires_at=lot_expiry(currency=account.currency, earned_at=timezone.now()) if amount > 0 else None,
        )
    except IdempotencyConflict as error:
        raise IdempotencyConflict(FORM_REUSED) from error
    if (entry.reason, entry.staff_user_id) != (reason, getattr(staff_user, "pk", None)):
        raise IdempotencyConflict(FORM_REUSED)
    return entry
