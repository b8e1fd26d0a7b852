"""Time the top spender leaderboard on the seeded database (figures in BENCHMARKS.md).

    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.leaderboard

Needs ``manage.py bench_seed`` data (1,000,000 members, 9,000,000 purchases over 3 brands;
``make bench-nightly`` seeds it) and applies the ``leaderboards`` migrations. Builds two races
set-based, then times what the LIFF page runs:

1. ``month``: brand 1's latest complete Bangkok month, started with ``race_activate`` (the
   production backfill: one contribution per purchase, then one standing per member).
2. ``brand``: every purchase of brand 1 in one race (333,334 members), standings built
   straight from purchases with ``INSERT ... SELECT member_id, SUM(total - refunded_total),
   MAX(purchased_at) ... GROUP BY``: the largest race this data set holds.
3. ``all``: the same over every purchase of all three brands: 1,000,000 standings in one
   race (a stress figure: a brand with every member of the data set).

For each: the member's own rank (``selectors.member_position``: one query) for ~200 random
ranked members and for the last-ranked member (the longest index range to count), the
top-N query (``selectors.leaderboard_top``), and the incremental upsert of one purchase
(in a transaction rolled back). Earlier bench races are removed first.
"""

import argparse
import os
import random
import statistics
import subprocess
import time
from datetime import timedelta

BENCH_PREFIX = "bench:"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="Random members timed per race (200).")
    parser.add_argument("--top", type=int, default=10, help="N of the top-N query (10).")
    parser.add_argument("--seed", type=int, default=8, help="Random seed of the member sample.")
    parser.add_argument("--skip-all", action="store_true", help="Skip the 1,000,000-standing race.")
    return parser.parse_args(argv)


def milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def machine() -> dict:
    def run(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
        except OSError:
            return "?"

    memory = run(["free", "-h"]).splitlines()
    return {"nproc": run(["nproc"]), "memory": memory[1].split()[1] if len(memory) > 1 else "?"}


def cleanup(cursor, tables: dict) -> None:
    cursor.execute(f"SELECT id FROM {tables['race']} WHERE name LIKE %s", [BENCH_PREFIX + "%"])  # noqa: S608
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return
    for table in ("standing", "contribution", "result", "prize"):
        cursor.execute(f"DELETE FROM {tables[table]} WHERE race_id = ANY(%s)", [ids])  # noqa: S608
    cursor.execute(f"DELETE FROM {tables['race_tiers']} WHERE race_id = ANY(%s)", [ids])  # noqa: S608
    cursor.execute(f"DELETE FROM {tables['race']} WHERE id = ANY(%s)", [ids])  # noqa: S608


def measure(race, *, samples: int, top: int, seed: int) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.leaderboards import selectors
    from campaigns.leaderboards.services import UPSERT_SQL
    from members.models import Member

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM leaderboards_standing WHERE race_id = %s AND value > 0", [race.pk])
        ranked = cursor.fetchone()[0]
        cursor.execute("SELECT member_id FROM leaderboards_standing WHERE race_id = %s AND value > 0 "
                       "ORDER BY md5(member_id::text || %s) LIMIT %s", [race.pk, str(seed), samples])
        sample_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT member_id FROM leaderboards_standing WHERE race_id = %s AND value > 0 "
                       "ORDER BY value ASC, reached_at DESC, member_id DESC LIMIT 1", [race.pk])
        last_id = cursor.fetchone()[0]
    members = Member.objects.in_bulk([*sample_ids, last_id])
    selectors.member_position(race=race, member=members[sample_ids[0]])  # one warm-up (plan, connection)
    rank_times, ranks = [], []
    for member_id in sample_ids:
        position, seconds = timed(selectors.member_position, race=race, member=members[member_id])
        rank_times.append(seconds)
        ranks.append(position.rank)
    last_position, last_seconds = timed(selectors.member_position, race=race, member=members[last_id])
    top_times = [timed(selectors.leaderboard_top, race=race, limit=top)[1] for _ in range(20)]
    top100_times = [timed(selectors.leaderboard_top, race=race, limit=100)[1] for _ in range(20)]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + selectors.POSITION_SQL,
                       {"race": race.pk, "member": last_id, "offset": race.top_n - 1})
        plan = "\n".join(row[0] for row in cursor.fetchall())
    upsert_times = []
    generator = random.Random(seed)
    with transaction.atomic():
        now = timezone.now()
        with connection.cursor() as cursor:
            for member_id in generator.sample(sample_ids, min(100, len(sample_ids))):
                started = time.perf_counter()
                cursor.execute(UPSERT_SQL, {"race": race.pk, "member": member_id, "amount": 100, "at": now,
                                            "now": now})
                upsert_times.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    return {
        "ranked": ranked, "samples": len(rank_times), "median_rank": int(statistics.median(ranks)),
        "rank_p50": milliseconds(percentile(rank_times, 0.50)), "rank_p95": milliseconds(percentile(rank_times, 0.95)),
        "rank_max": milliseconds(max(rank_times)), "last_rank": last_position.rank,
        "last_ms": milliseconds(last_seconds), "top_p50": milliseconds(percentile(top_times, 0.5)),
        "top100_p50": milliseconds(percentile(top100_times, 0.5)),
        "upsert_p50": milliseconds(percentile(upsert_times, 0.5)),
        "upsert_p95": milliseconds(percentile(upsert_times, 0.95)), "plan": plan,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from campaigns.leaderboards.models import Race, RaceContribution, RacePrize, RaceResult, Standing
    from campaigns.leaderboards.services import BANGKOK, race_activate, race_period_bounds
    from loyalty import events

    events._subscribers.clear()  # nothing here should reach LINE
    call_command("migrate", "leaderboards", verbosity=0)
    tables = {"race": Race._meta.db_table, "standing": Standing._meta.db_table,
              "contribution": RaceContribution._meta.db_table, "result": RaceResult._meta.db_table,
              "prize": RacePrize._meta.db_table, "race_tiers": Race.audience_tiers.through._meta.db_table}
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('shared_buffers'), "
                       "pg_size_pretty(pg_database_size(current_database()))")
        version, shared_buffers, size = cursor.fetchone()
        cursor.execute("SELECT (SELECT COUNT(*) FROM members_member), (SELECT COUNT(*) FROM loyalty_purchase)")
        members, purchases = cursor.fetchone()
        cursor.execute("SELECT brand_id, MIN(purchased_at), MAX(purchased_at), COUNT(*) FROM loyalty_purchase "
                       "GROUP BY brand_id ORDER BY brand_id LIMIT 1")
        brand_id, first_at, last_at, brand_purchases = cursor.fetchone()
        cleanup(cursor, tables)
    host = machine()
    print(f"PostgreSQL: {version.split(' on ')[0]}, shared_buffers {shared_buffers}; database {size}; "
          f"nproc {host['nproc']}, memory {host['memory']}")
    print(f"members {members:,}, purchases {purchases:,} (brand {brand_id}: {brand_purchases:,}); "
          f"load average at start {os.getloadavg()[0]:.1f}")

    results = []
    # 1. brand 1's latest complete Bangkok month, started the production way.
    last_local = timezone.localtime(last_at, BANGKOK)
    previous_month_day = last_local.replace(day=1) - timedelta(days=1)
    month_start, month_end = race_period_bounds(period="month", starts_at=previous_month_day)
    month = Race.objects.create(brand_id=brand_id, name=BENCH_PREFIX + "month", metric="spend", period="month",
                                starts_at=month_start, ends_at=month_end, top_n=args.top)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM loyalty_purchase WHERE brand_id = %s AND purchased_at >= %s "
                       "AND purchased_at < %s", [brand_id, month_start, month_end])
        month_purchases = cursor.fetchone()[0]
    _race, build = timed(race_activate, race_id=month.pk, now=month_start)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {tables['standing']}")  # noqa: S608
    month.refresh_from_db()
    results.append(("month", f"brand {brand_id}, {month_start:%Y-%m} ({month_purchases:,} purchases, "
                    "race_activate)", build, measure(month, samples=args.samples, top=args.top, seed=args.seed)))

    sql = (f"INSERT INTO {tables['standing']} (race_id, member_id, value, reached_at, updated_at) "  # noqa: S608
           "SELECT %s, member_id, SUM(total - refunded_total), MAX(purchased_at), now() "
           "FROM loyalty_purchase WHERE purchased_at >= %s AND purchased_at < %s {brand} GROUP BY member_id")
    wide = [("brand", f"brand {brand_id}, all its {brand_purchases:,} purchases (INSERT ... SELECT ... GROUP BY)",
             "AND brand_id = %s", [brand_id])]
    if not args.skip_all:
        wide.append(("all", f"all brands, all {purchases:,} purchases (INSERT ... SELECT ... GROUP BY)", "", []))
    for name, source, brand_filter, extra in wide:
        # Every purchase of the brand (or of the data set) in one race, built straight from purchases.
        race = Race.objects.create(brand_id=brand_id, name=BENCH_PREFIX + name, metric="spend", period="custom",
                                   starts_at=first_at, ends_at=last_at + timedelta(seconds=1), top_n=args.top,
                                   status="active")
        with connection.cursor() as cursor:
            _none, build = timed(cursor.execute, sql.format(brand=brand_filter),
                                 [race.pk, race.starts_at, race.ends_at, *extra])
            cursor.execute(f"VACUUM ANALYZE {tables['standing']}")  # noqa: S608
        results.append((name, source, build, measure(race, samples=args.samples, top=args.top, seed=args.seed)))

    print()
    print("| race | built from | build s | ranked | rank p50 ms | p95 ms | max ms | last-ranked ms | "
          f"top {args.top} ms | top 100 ms | upsert p50/p95 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, source, build, figures in results:
        print(f"| {name} | {source} | {build:.1f} | {figures['ranked']:,} | {figures['rank_p50']} | "
              f"{figures['rank_p95']} | {figures['rank_max']} | {figures['last_ms']} (#{figures['last_rank']:,}) | "
              f"{figures['top_p50']} | {figures['top100_p50']} | {figures['upsert_p50']}/{figures['upsert_p95']} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    for name, _source, _build, figures in results:
        print(f"\nEXPLAIN ANALYZE of the rank query, last-ranked member of '{name}':\n{figures['plan']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
