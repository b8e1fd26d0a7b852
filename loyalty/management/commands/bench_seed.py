"""Seed a benchmark database for the nightly jobs (expiry, reminders, tier review).

    manage.py bench_seed --members 1000000 --entries 10000000 --brands 3

Everything is ``INSERT ... SELECT generate_series`` with ids computed from the member
number ``i`` and the entry number ``j`` (no Python loop over rows). The secondary indexes,
unique and foreign-key constraints of the seeded tables are dropped for the load and
re-created after it (as ``pg_restore`` does), then the tables are analysed.

Per member (``k = entries // members`` entries each; the example gives k = 10):

- one point account (the brand's default currency: 12 months after earning, reminder
  7 days before, 0.25 THB a point) and ``k - 1`` purchases, each earning one lot;
- lot 1 (earned 14 months ago) is spent whole by entry ``k``, a redemption (one
  ``LotAllocation``), so every invariant of ``verify_ledger`` holds;
- members ``i % 10 == 1`` (10 %) have lots 2 and 3 expiring at 00:00 Bangkok today (due),
  members ``i % 10 == 2`` (10 %) have them expiring within the next 1-7 days (reminders);
  other lots expire 8-357 days from today;
- 80 % are reachable on LINE; every member has a ``MemberTier`` of a 3-tier program on
  spend over a rolling 12 months, and ``i % 12 == 0`` (1/12) are due for review today.

Refuses to run on a database whose name does not contain "bench" (it truncates the
brand, member and loyalty tables) unless ``--force``.
"""

import time as clock
from datetime import datetime, time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from loyalty.models import (
    JobRun,
    LedgerEntry,
    LotAllocation,
    MemberTier,
    PointAccount,
    PointCurrency,
    PointLot,
    Purchase,
    Tier,
    TierProgram,
)
from loyalty.services.expiry import BANGKOK
from members.models import Branch, Brand, Member

SEEDED = [Member, PointAccount, Purchase, LedgerEntry, PointLot, LotAllocation, MemberTier]
TABLES = [model._meta.db_table for model in SEEDED]
M, A, P, E, L, X, T = TABLES
TIERS = [("silver", "ซิลเวอร์", "Silver", 1, Decimal("0")), ("gold", "โกลด์", "Gold", 2, Decimal("3000")),
         ("platinum", "แพลทินัม", "Platinum", 3, Decimal("6000"))]

# %(k)s entries per member; %(base)s: today's 00:00 Bangkok. Amount of lot j of member i:
AMOUNT = "(CASE WHEN j = 1 THEN 50 + i %% 50 ELSE 10 + (i * j) %% 90 END)"
EXPIRES = """(CASE
    WHEN j = 1 THEN %(base)s - interval '60 days'
    WHEN i %% 10 = 1 AND j IN (2, 3) THEN %(base)s
    WHEN i %% 10 = 2 AND j IN (2, 3) THEN %(base)s + (1 + i %% 7) * interval '1 day'
    ELSE %(base)s + (8 + (i * 31 + j * 97) %% 350) * interval '1 day' END)"""
EARNED = f"({EXPIRES} - interval '12 months' - interval '12 hours')"
EARNS = "generate_series(1, %(members)s) AS i CROSS JOIN generate_series(1, %(k)s - 1) AS j"

STEPS = [
    ("members", f"""
        INSERT INTO {M} (id, created_at, updated_at, code, line_user_id, phone, display_name, first_name, last_name,
                         gender, email, status, registered_at, brand_id, language, line_followed_at, line_reachable,
                         custom_fields)
        SELECT i, %(now)s, %(now)s, 'M' || i, 'U' || md5(i::text), NULL, 'Member ' || i, 'Bench', 'Member ' || i,
               '', '', 'active', %(now)s - (i %% 700) * interval '1 day', (%(brands)s::bigint[])[(i - 1) %% %(n)s + 1],
               CASE WHEN i %% 3 = 0 THEN 'en' ELSE 'th' END, %(now)s - (i %% 700) * interval '1 day',
               i %% 5 <> 0, '{{}}'::jsonb
        FROM generate_series(1, %(members)s) AS i"""),  # noqa: S608 - table names from model _meta
    ("accounts", f"""
        INSERT INTO {A} (id, balance, created_at, updated_at, brand_id, member_id, currency_id)
        SELECT i, (SELECT SUM(10 + (i * j) %% 90) FROM generate_series(2, %(k)s - 1) AS j), %(now)s, %(now)s,
               (%(brands)s::bigint[])[(i - 1) %% %(n)s + 1], i, (%(currencies)s::bigint[])[(i - 1) %% %(n)s + 1]
        FROM generate_series(1, %(members)s) AS i"""),  # noqa: S608 - table names from model _meta
    ("purchases", f"""
        INSERT INTO {P} (id, channel, order_id, total, refunded_total, status, points_earned, purchased_at,
                         created_at, updated_at, brand_id, member_id)
        SELECT (i - 1) * (%(k)s - 1) + j, 'pos', 'B' || ((i - 1) * (%(k)s - 1) + j), {AMOUNT} * 25 + i %% 25, 0,
               'completed', {AMOUNT}, {EARNED}, {EARNED}, {EARNED}, (%(brands)s::bigint[])[(i - 1) %% %(n)s + 1], i
        FROM {EARNS}"""),  # noqa: S608 - table names from model _meta
    ("ledger entries", f"""
        INSERT INTO {E} (id, kind, channel, amount, balance_after, idempotency_key, reason, reference, expires_at,
                         details, created_at, brand_id, account_id, purchase_id)
        SELECT (i - 1) * %(k)s + j, kind, channel, amount, SUM(amount) OVER (PARTITION BY i ORDER BY j),
               key, '', '', expires_at, '{{}}'::jsonb, created_at, (%(brands)s::bigint[])[(i - 1) %% %(n)s + 1],
               i, purchase_id
        FROM (
            SELECT i, j, 'earn' AS kind, 'pos' AS channel, {AMOUNT} AS amount,
                   'purchase:' || ((i - 1) * (%(k)s - 1) + j) AS key, {EXPIRES} AS expires_at,
                   {EARNED} AS created_at, (i - 1) * (%(k)s - 1) + j AS purchase_id
            FROM {EARNS}
            UNION ALL
            SELECT i, %(k)s, 'redeem', 'reward', -(50 + i %% 50), 'redeem:bench:' || i, NULL,
                   %(now)s - interval '30 days', NULL
            FROM generate_series(1, %(members)s) AS i
        ) entries"""),  # noqa: S608 - table names from model _meta
    ("lots", f"""
        INSERT INTO {L} (id, amount, remaining, expires_at, created_at, account_id, entry_id)
        SELECT (i - 1) * %(k)s + j, {AMOUNT}, CASE WHEN j = 1 THEN 0 ELSE {AMOUNT} END, {EXPIRES}, {EARNED}, i,
               (i - 1) * %(k)s + j
        FROM {EARNS}"""),  # noqa: S608 - table names from model _meta
    ("allocations", f"""
        INSERT INTO {X} (id, amount, entry_id, lot_id)
        SELECT i, 50 + i %% 50, (i - 1) * %(k)s + %(k)s, (i - 1) * %(k)s + 1
        FROM generate_series(1, %(members)s) AS i"""),  # noqa: S608 - table names from model _meta
    ("member tiers", f"""
        INSERT INTO {T} (member_id, achieved_at, qualified_until, override_reason, updated_at, brand_id, tier_id)
        SELECT i, %(now)s - interval '200 days',
               CASE WHEN i %% 12 = 0 THEN %(base)s ELSE %(base)s + (i %% 12) * interval '30 days' END,
               '', %(now)s, (%(brands)s::bigint[])[(i - 1) %% %(n)s + 1],
               (%(tiers)s::bigint[])[((i - 1) %% %(n)s) * 3 + i %% 3 + 1]
        FROM generate_series(1, %(members)s) AS i"""),  # noqa: S608 - table names from model _meta
]


class Command(BaseCommand):
    help = "Seed a benchmark database (members, accounts, purchases, ledger, lots, tiers) set-based."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=1_000_000)
        parser.add_argument("--entries", type=int, default=10_000_000)
        parser.add_argument("--brands", type=int, default=3)
        parser.add_argument("--force", action="store_true", help="Run on a database not named *bench*.")

    def handle(self, *args, members: int, entries: int, brands: int, force: bool, **options):
        database = connection.settings_dict["NAME"]
        if "bench" not in database and not force:
            raise CommandError(f"{database!r} is not a benchmark database (it would be truncated); use --force")
        k = entries // members
        if k < 3 or brands < 1:
            raise CommandError("--entries must be at least 3 × --members, and --brands at least 1")
        started = clock.perf_counter()
        now = timezone.now()
        base = datetime.combine(timezone.localtime(now, BANGKOK).date(), time.min, tzinfo=BANGKOK)
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'; SET synchronous_commit = off")
            cursor.execute(f"TRUNCATE {Brand._meta.db_table}, {JobRun._meta.db_table} RESTART IDENTITY CASCADE")
        params = {"now": now, "base": base, "members": members, "k": k, "n": brands, **self._program(brands)}
        saved = self._drop_indexes()
        try:
            with connection.cursor() as cursor:
                for name, sql in STEPS:
                    step = clock.perf_counter()
                    cursor.execute(sql, params)
                    self.stdout.write(f"{name:>15}: {cursor.rowcount:>11,} rows  {clock.perf_counter() - step:6.1f} s")
        finally:
            step = clock.perf_counter()
            self._restore_indexes(saved)
            self.stdout.write(f"{'indexes':>15}: {len(saved):>11,} made  {clock.perf_counter() - step:6.1f} s")
        step = clock.perf_counter()
        with connection.cursor() as cursor:
            for table in TABLES[:-1]:  # member tiers have no sequence (keyed by member)
                sql = f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                cursor.execute(sql, [table])
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
        self.stdout.write(f"{'vacuum analyze':>15}: {clock.perf_counter() - step:18.1f} s")
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {members:,} members, {members * k:,} ledger entries ({k} per member), {brands} brands "
            f"in {clock.perf_counter() - started:.0f} s; database {database} is {size}."))

    def _program(self, brands: int) -> dict:
        brand_ids, currency_ids, tier_ids = [], [], []
        for number in range(1, brands + 1):
            brand = Brand.objects.create(slug=f"bench-{number}", name=f"Bench brand {number}",
                                         line_channel_secret="bench")  # noqa: S106 - a benchmark brand, never used for LINE
            Branch.objects.create(brand=brand, code="MAIN", name="Main")
            currency = PointCurrency.objects.create(
                brand=brand, code="points", name="Points", is_default=True,
                expiry_policy=PointCurrency.ExpiryPolicy.MONTHS, expiry_period=12, reminder_days=7,
                point_value=Decimal("0.25"))
            TierProgram.objects.create(brand=brand, metric=TierProgram.Metric.SPEND,
                                       period=TierProgram.Period.ROLLING, rolling_months=12)
            for code, name, name_en, rank, threshold in TIERS:
                tier_ids.append(Tier.objects.create(brand=brand, code=code, name=name, name_en=name_en, rank=rank,
                                                    threshold=threshold).pk)
            brand_ids.append(brand.pk)
            currency_ids.append(currency.pk)
        return {"brands": brand_ids, "currencies": currency_ids, "tiers": tier_ids}

    def _drop_indexes(self) -> list[str]:
        """Drop the seeded tables' secondary indexes, unique and foreign-key constraints; return their DDL."""
        saved, drops = [], []
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
                FROM pg_constraint c WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')
                ORDER BY c.contype DESC""", [TABLES])  # unique first, so foreign keys are re-made after them
            for table, name, definition, _kind in cursor.fetchall():
                saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute("""
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""", [TABLES])
            for name, definition in cursor.fetchall():
                saved.insert(0, definition)
                drops.append(f"DROP INDEX {name}")
            for statement in drops:
                cursor.execute(statement)
        return saved

    def _restore_indexes(self, saved: list[str]) -> None:
        with connection.cursor() as cursor:
            for statement in saved:
                cursor.execute(statement)
