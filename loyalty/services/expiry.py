"""Point expiry at scale: the nightly expiry job, expiry reminders and the liability report.

- ``points_expire_due`` writes, set-based, what ``loyalty.services.ledger.lots_expire_due``
  writes for one account: ONE ``expire`` entry per account with due lots (key
  ``expire:{account}:{first due lot}``), one ``LotAllocation`` per due lot, the lots'
  ``remaining`` set to 0 and the cached balance moved. Per batch of accounts, one
  transaction: lock the accounts in primary-key order (``FOR UPDATE``), then one SQL
  statement re-selects their due lots under the lock and writes everything. The online
  path (``points_post``) locks the account before its lots too, so the two never
  deadlock and never expire a lot twice. A second run finds no due lot and writes nothing.
- ``expiry_reminders_create`` inserts one ``ExpiryReminder`` per account and Bangkok
  expiry day (``INSERT ... SELECT ... ON CONFLICT DO NOTHING``) for lots expiring within
  their currency's ``reminder_days``; ``messaging.reminders.expiry_reminders_send``
  sends them on LINE.
- ``points_liability`` reads the outstanding points by currency and expiry month.

No per-member Python loop and no per-entry Python event: each run is recorded as a
``JobRun`` row instead.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import (
    ExpiryReminder,
    JobRun,
    LedgerEntry,
    LotAllocation,
    PointAccount,
    PointCurrency,
    PointLot,
)
from members.models import Member

BANGKOK = ZoneInfo("Asia/Bangkok")
ACCOUNT, ENTRY, LOT, ALLOCATION, CURRENCY, REMINDER, MEMBER = (
    model._meta.db_table
    for model in (PointAccount, LedgerEntry, PointLot, LotAllocation, PointCurrency, ExpiryReminder, Member)
)
EXPIRE_JOB = "points_expire"
REMIND_JOB = "expiry_reminders_create"


def bangkok_date(moment: datetime) -> date:
    return timezone.localtime(moment, BANGKOK).date()


def _job_record(*, job: str, now: datetime, started_at: datetime, rows: int, details: dict) -> JobRun:
    return JobRun.objects.create(job=job, run_key=bangkok_date(now).isoformat(), started_at=started_at,
                                 finished_at=timezone.now(), rows=rows, details=details)


# Candidate accounts: the partial index ``lot_open_expiry`` (expires_at WHERE remaining > 0)
# finds the due lots without reading the open ones.
_DUE_ACCOUNTS_SQL = f"""
    SELECT DISTINCT l.account_id FROM {LOT} l
    {{brand_join}}
    WHERE l.remaining > 0 AND l.expires_at <= %(now)s {{brand_filter}}
    ORDER BY l.account_id"""  # noqa: S608 - table names from model _meta

_LOCK_ACCOUNTS_SQL = f"SELECT id FROM {ACCOUNT} WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE"  # noqa: S608

# Runs after _LOCK_ACCOUNTS_SQL in the same transaction: the statement's snapshot is taken
# under the account locks, so the due lots and balances it reads are current and stay so.
_EXPIRE_BATCH_SQL = f"""
    WITH due AS (
        SELECT l.id, l.account_id, l.remaining FROM {LOT} l
        WHERE l.account_id = ANY(%(ids)s) AND l.remaining > 0 AND l.expires_at <= %(now)s
    ),
    per_account AS (
        SELECT account_id, SUM(remaining) AS points, MIN(id) AS first_lot, COUNT(*) AS lots,
               jsonb_agg(id ORDER BY id) AS lot_ids
        FROM due GROUP BY account_id
    ),
    entries AS (
        INSERT INTO {ENTRY} (brand_id, account_id, kind, channel, amount, balance_after, idempotency_key,
                             reason, reference, details, created_at)
        SELECT a.brand_id, a.id, %(kind)s, %(channel)s, -p.points, a.balance - p.points,
               'expire:' || a.id || ':' || p.first_lot, '', p.lots || ' lot(s)',
               jsonb_build_object('lots', p.lot_ids), %(created_at)s
        FROM per_account p JOIN {ACCOUNT} a ON a.id = p.account_id
        ORDER BY a.id
        ON CONFLICT (brand_id, idempotency_key) DO NOTHING
        RETURNING id, account_id, amount
    ),
    allocations AS (
        INSERT INTO {ALLOCATION} (entry_id, lot_id, amount)
        SELECT e.id, d.id, d.remaining FROM entries e JOIN due d ON d.account_id = e.account_id
        RETURNING lot_id
    ),
    closed_lots AS (
        UPDATE {LOT} l SET remaining = 0 FROM allocations x WHERE l.id = x.lot_id RETURNING l.id
    ),
    moved_accounts AS (
        UPDATE {ACCOUNT} a SET balance = a.balance + e.amount, updated_at = %(created_at)s
        FROM entries e WHERE a.id = e.account_id RETURNING a.id
    )
    SELECT (SELECT COUNT(*) FROM entries), (SELECT COALESCE(-SUM(amount), 0) FROM entries),
           (SELECT COUNT(*) FROM closed_lots), (SELECT COUNT(*) FROM moved_accounts)"""  # noqa: S608 - table names from model _meta


def points_expire_due(*, now: datetime | None = None, brand=None, batch_accounts: int = 50_000) -> dict:
    """Expire every lot past its expiry (``expires_at <= now``): one expire entry per account.

    Set-based. For each batch of ``batch_accounts`` account ids (one transaction each, so
    locks are short): lock the accounts in primary-key order, then in one statement write
    the entries (``ON CONFLICT (brand, idempotency_key) DO NOTHING``), the allocations, the
    closed lots and the balances. Keeps every ``verify_ledger`` invariant; running it again
    writes nothing. ``brand`` limits it to that brand's accounts. Records a ``JobRun``.

    Returns ``{"accounts", "points", "lots", "batches", "run_key"}``.
    """
    now = now or timezone.now()
    started_at = timezone.now()
    params = {"now": now}
    brand_join = brand_filter = ""
    if brand is not None:
        brand_join = f"JOIN {ACCOUNT} a ON a.id = l.account_id"
        brand_filter = "AND a.brand_id = %(brand)s"
        params["brand"] = getattr(brand, "pk", brand)
    with connection.cursor() as cursor:
        cursor.execute(_DUE_ACCOUNTS_SQL.format(brand_join=brand_join, brand_filter=brand_filter), params)
        account_ids = [row[0] for row in cursor.fetchall()]
    totals = {"accounts": 0, "points": 0, "lots": 0, "batches": 0}
    for start in range(0, len(account_ids), batch_accounts):
        ids = account_ids[start:start + batch_accounts]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LOCK_ACCOUNTS_SQL, {"ids": ids})
            cursor.execute(_EXPIRE_BATCH_SQL, {"ids": ids, "now": now, "created_at": timezone.now(),
                                               "kind": LedgerEntry.Kind.EXPIRE,
                                               "channel": LedgerEntry.Channel.SYSTEM})
            entries, points, lots, accounts = cursor.fetchone()
            if entries != accounts:  # the same statement moved both; unequal means a broken invariant: roll back
                raise RuntimeError(f"expiry wrote {entries} entries but moved {accounts} balances")
        totals["accounts"] += entries
        totals["points"] += int(points)
        totals["lots"] += lots
        totals["batches"] += 1
    totals["run_key"] = bangkok_date(now).isoformat()
    _job_record(job=EXPIRE_JOB, now=now, started_at=started_at, rows=totals["accounts"],
                details={**totals, "brand": params.get("brand"), "now": now.isoformat()})
    return totals


_REMINDERS_SQL = f"""
    INSERT INTO {REMINDER} (account_id, member_id, expires_on, points, expires_at, created_at)
    SELECT a.id, a.member_id, (l.expires_at AT TIME ZONE 'Asia/Bangkok')::date, SUM(l.remaining),
           MIN(l.expires_at), %(now)s
    FROM {LOT} l
    JOIN {ACCOUNT} a ON a.id = l.account_id
    JOIN {CURRENCY} c ON c.id = a.currency_id
    JOIN {MEMBER} m ON m.id = a.member_id
    WHERE l.remaining > 0 AND l.expires_at > %(now)s AND l.expires_at < %(horizon)s
      AND (l.expires_at AT TIME ZONE 'Asia/Bangkok')::date <= %(today)s::date + c.reminder_days
      AND c.reminder_days > 0 AND c.expiry_policy <> %(never)s
      AND m.status = %(active)s AND m.line_reachable AND m.line_user_id IS NOT NULL AND m.line_user_id <> ''
      {{brand_filter}}
    GROUP BY a.id, a.member_id, (l.expires_at AT TIME ZONE 'Asia/Bangkok')::date
    ORDER BY a.id
    ON CONFLICT (account_id, expires_on) DO NOTHING"""  # noqa: S608 - table names from model _meta


def expiry_reminders_create(*, now: datetime | None = None, brand=None) -> int:
    """Insert one reminder per account and Bangkok expiry day for points expiring soon.

    A lot is due a reminder when it expires after ``now`` and its Bangkok expiry date is at
    most its currency's ``reminder_days`` after today (``reminder_days`` 0 or policy
    "never": no reminder). Only active members reachable on LINE get one; reminders are
    transactional, so no marketing consent is needed. Set-based and idempotent
    (``ON CONFLICT (account, expires_on) DO NOTHING``). Returns the number inserted and
    records a ``JobRun``.
    """
    now = now or timezone.now()
    started_at = timezone.now()
    today = bangkok_date(now)
    longest = PointCurrency.objects.exclude(expiry_policy=PointCurrency.ExpiryPolicy.NEVER).order_by(
        "-reminder_days").values_list("reminder_days", flat=True).first() or 0
    inserted = 0
    if longest:
        horizon = datetime.combine(today + timedelta(days=longest + 1), time.min, tzinfo=BANGKOK)
        params = {"now": now, "horizon": horizon, "today": today, "never": PointCurrency.ExpiryPolicy.NEVER,
                  "active": Member.Status.ACTIVE}
        brand_filter = ""
        if brand is not None:
            brand_filter = "AND a.brand_id = %(brand)s"
            params["brand"] = getattr(brand, "pk", brand)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_REMINDERS_SQL.format(brand_filter=brand_filter), params)
            inserted = cursor.rowcount
    _job_record(job=REMIND_JOB, now=now, started_at=started_at, rows=inserted,
                details={"inserted": inserted, "now": now.isoformat()})
    return inserted


# --- liability report ---------------------------------------------------------------------

_LIABILITY_SQL = f"""
    SELECT c.id, c.code, c.name, c.point_value,
           date_trunc('month', (l.expires_at AT TIME ZONE 'Asia/Bangkok') - interval '1 microsecond')::date,
           SUM(l.remaining), COUNT(DISTINCT l.account_id)
    FROM {LOT} l
    JOIN {ACCOUNT} a ON a.id = l.account_id
    JOIN {CURRENCY} c ON c.id = a.currency_id
    WHERE l.remaining > 0 {{brand_filter}}
    GROUP BY c.id, c.code, c.name, c.point_value, 5
    ORDER BY c.code, c.id, 5 NULLS LAST"""  # noqa: S608 - table names from model _meta

CENT = Decimal("0.01")


def _thb(points: int, point_value: Decimal) -> Decimal:
    return (Decimal(points) * point_value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class LiabilityRow:
    month: date | None  # the Bangkok month of the last valid day; None: never expires
    points: int
    accounts: int
    value: Decimal


@dataclass
class CurrencyLiability:
    currency_id: int
    code: str
    name: str
    point_value: Decimal
    rows: list[LiabilityRow] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(row.points for row in self.rows)

    @property
    def value(self) -> Decimal:
        return _thb(self.points, self.point_value)


@dataclass
class Liability:
    currencies: list[CurrencyLiability]

    @property
    def value(self) -> Decimal:
        return sum((currency.value for currency in self.currencies), Decimal("0.00"))


def points_liability(*, brand_ids: list[int] | None) -> Liability:
    """Outstanding points (open lots) by currency and by Bangkok month of the last valid day.

    ``brand_ids``: only accounts of these brands (the staff user's brands); None: every
    brand (superusers). A lot valid through 31 January counts in January (it expires at
    00:00 on 1 February); lots without expiry form the "never expires" row (month None).
    THB value = points × the currency's ``point_value``, rounded half up to the satang.
    """
    params = {}
    brand_filter = ""
    if brand_ids is not None:
        brand_filter = "AND a.brand_id = ANY(%(brands)s)"
        params["brands"] = list(brand_ids)
    currencies: dict[int, CurrencyLiability] = {}
    with connection.cursor() as cursor:
        cursor.execute(_LIABILITY_SQL.format(brand_filter=brand_filter), params)
        for currency_id, code, name, point_value, month, points, accounts in cursor.fetchall():
            currency = currencies.setdefault(currency_id, CurrencyLiability(currency_id, code, name, point_value))
            currency.rows.append(LiabilityRow(month, int(points), accounts, _thb(int(points), point_value)))
    return Liability(currencies=list(currencies.values()))
