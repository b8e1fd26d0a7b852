"""Time segment counts and the member statistics rebuild on the seeded database (BENCHMARKS.md).

    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.segments

Needs ``manage.py bench_seed`` data (1,000,000 members, 9,000,000 purchases over 3 brands;
``make bench-nightly`` seeds it; this never reseeds) and applies the ``segments`` migrations.
The seed has no purchase lines, branches on purchases, birth dates or genders; the first run
adds them once, set-based (``--prepare`` forces it again; the lines are added last and mark it done):

- 10 branches per brand; purchase ``id`` visits branch ``(id * 7 + member) % 10`` (favourites
  differ per member);
- one line per purchase: SKU ``SKU00``-``SKU39`` and category ``CAT0``-``CAT7`` from the id;
- birth dates spread over 1960-2005, gender female/male/other/unspecified by member id;
- 3 tags per brand on 10 %, 5 % and 1 % of the members.

Then ``member_stats_rebuild()`` (every brand: statistics, R/F/M scores, groups, purchase
months) is timed, the new tables analysed, and each condition type counted ``--runs`` times
(after one warm-up) over brand 1 (333,334 members) and over all 1,000,000 members counted as
one audience. Prints p50/max per condition and the plan of the slowest.
"""

import argparse
import os
import statistics
import time

from bench.machine import machine

MARK = "SKU01"  # purchase lines are added last: their presence means the data is prepared


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="Timed counts per condition (7).")
    parser.add_argument("--prepare", action="store_true", help="Add lines, branches, birth dates, tags again.")
    parser.add_argument("--skip-rebuild", action="store_true", help="Reuse the statistics already built.")
    return parser.parse_args(argv)


def prepare(cursor, brand_ids: list[int]) -> None:
    started = time.perf_counter()
    for brand_id in brand_ids:
        cursor.execute("INSERT INTO members_branch (brand_id, code, name, is_active, created_at, updated_at) "
                       "SELECT %s, 'SEG' || lpad(n::text, 2, '0'), 'Bench branch ' || n, true, now(), now() "
                       "FROM generate_series(1, 10) n ON CONFLICT (brand_id, code) DO NOTHING", [brand_id])
    cursor.execute("""
        UPDATE loyalty_purchase p SET branch_id = b.id
        FROM members_branch b
        WHERE b.brand_id = p.brand_id AND b.code = 'SEG' || lpad((((p.id * 7 + p.member_id) %% 10) + 1)::text, 2, '0')
          AND p.branch_id IS DISTINCT FROM b.id""", [])
    print(f"  purchases given a branch: {cursor.rowcount:,}")
    cursor.execute("""
        UPDATE members_member SET birth_date = date '1960-01-01' + ((id * 7919) %% 16800)::int,
               gender = (ARRAY['female', 'male', 'other', ''])[(id %% 4) + 1]
        WHERE birth_date IS NULL""", [])
    print(f"  members given a birth date: {cursor.rowcount:,}")
    for brand_id in brand_ids:
        for name, modulo in (("bench-vip", 10), ("bench-student", 20), ("bench-staff", 100)):
            cursor.execute("INSERT INTO segments_membertag (brand_id, name, colour, description, created_at, "
                           "updated_at) VALUES (%s, %s, '#06c755', '', now(), now()) "
                           "ON CONFLICT (brand_id, name) DO NOTHING", [brand_id, name])
            cursor.execute("SELECT id FROM segments_membertag WHERE brand_id = %s AND name = %s", [brand_id, name])
            tag_id = cursor.fetchone()[0]
            cursor.execute("INSERT INTO segments_membertagging (tag_id, member_id, at) "
                           "SELECT %s, id, now() FROM members_member WHERE brand_id = %s AND id %% %s = 0 "
                           "ON CONFLICT (tag_id, member_id) DO NOTHING", [tag_id, brand_id, modulo])
    cursor.execute("DELETE FROM loyalty_purchaseline WHERE sku LIKE 'SKU%%' AND category LIKE 'CAT%%'", [])
    cursor.execute("""
        INSERT INTO loyalty_purchaseline (purchase_id, sku, category, quantity, amount)
        SELECT id, 'SKU' || lpad(((id * 13) %% 40)::text, 2, '0'), 'CAT' || (id %% 8), 1, total
        FROM loyalty_purchase""", [])
    print(f"  purchase lines: {cursor.rowcount:,}")
    cursor.execute("VACUUM ANALYZE loyalty_purchaseline")
    cursor.execute("VACUUM ANALYZE loyalty_purchase")
    cursor.execute("VACUUM ANALYZE members_member")
    cursor.execute("VACUUM ANALYZE segments_membertagging")
    print(f"  prepared in {time.perf_counter() - started:.1f} s")


def definitions(brand_id: int, cursor) -> list[tuple[str, dict]]:
    cursor.execute("SELECT id FROM segments_membertag WHERE brand_id = %s ORDER BY name", [brand_id])
    tags = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT code FROM members_member WHERE brand_id = %s ORDER BY id LIMIT 100", [brand_id])
    codes = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT code FROM loyalty_tier WHERE brand_id = %s ORDER BY rank", [brand_id])
    tiers = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT date(MAX(purchased_at)) FROM loyalty_purchase WHERE brand_id = %s", [brand_id])
    last_day = cursor.fetchone()[0]
    return [
        ("all", {"type": "all"}),
        ("rfm", {"type": "rfm", "groups": ["champions", "loyal_customers"]}),
        ("purchased sku ever", {"type": "purchased", "by": "sku", "codes": ["SKU07"]}),
        ("purchased 5 skus, 90 days", {"type": "purchased", "by": "sku",
                                       "codes": ["SKU01", "SKU02", "SKU03", "SKU04", "SKU05"], "days": 90}),
        ("purchased category, 2 months", {"type": "purchased", "by": "category", "codes": ["CAT3"],
                                          "since": (last_day.replace(day=1)).isoformat(),
                                          "until": last_day.isoformat()}),
        ("tags any", {"type": "tags", "tags": tags[:2], "match": "any"}),
        ("tags all", {"type": "tags", "tags": tags[:2], "match": "all"}),
        ("points 100-300", {"type": "points", "min": 100, "max": 300}),
        ("points <= 50 (incl. no account)", {"type": "points", "max": 50}),
        ("birth month", {"type": "birth_month", "months": [6]}),
        ("tier", {"type": "tier", "tiers": tiers[-1:]}),
        ("entry tier (incl. no row)", {"type": "tier", "tiers": tiers[:1]}),
        ("pending", {"type": "pending"}),
        ("100 individuals", {"type": "members", "codes": codes}),
        ("favourite branch", {"type": "favourite_branch", "branches": ["SEG01", "SEG02"]}),
        ("usual weekday + hour", {"type": "usual_time", "weekdays": [6, 7], "hour_from": 10, "hour_to": 14}),
        ("average ticket >= 1500", {"type": "average_ticket", "compare": "gte", "amount": "1500"}),
        ("last purchase before", {"type": "last_purchase", "compare": "before",
                                  "date": (last_day.replace(day=1)).isoformat()}),
        ("gender", {"type": "gender", "genders": ["female"]}),
        ("age 25-34", {"type": "age", "min": 25, "max": 34}),
        ("nested AND/OR", {"op": "and", "conditions": [
            {"type": "rfm", "groups": ["champions", "at_risk", "cant_lose_them"]},
            {"op": "or", "conditions": [
                {"type": "purchased", "by": "sku", "codes": ["SKU07"], "days": 90},
                {"type": "tags", "tags": tags[:1], "match": "any"},
                {"type": "age", "min": 25, "max": 34}]},
            {"type": "points", "min": 100}]}),
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.segments.conditions import Context
    from campaigns.segments.definition import definition_clean, definition_q
    from campaigns.segments.services import COUNT_WORK_MEM, members_count
    from campaigns.segments.stats import member_stats_rebuild
    from loyalty import events
    from members.models import Brand, Member

    events._subscribers.clear()  # nothing here should reach LINE
    call_command("migrate", "segments", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT COUNT(*) FROM members_member), (SELECT COUNT(*) FROM loyalty_purchase), "
                       "version(), current_setting('shared_buffers')")
        members, purchases, version, shared_buffers = cursor.fetchone()
        if not members:
            print("taem_bench is empty: seed it first with `make bench-nightly`.")
            return 1
        brand_ids = list(Brand.objects.order_by("pk").values_list("pk", flat=True))
        cursor.execute("SELECT EXISTS (SELECT 1 FROM loyalty_purchaseline WHERE sku = %s)", [MARK])
        if args.prepare or not cursor.fetchone()[0]:
            print("preparing bench data (once): branches, purchase lines, birth dates, tags")
            prepare(cursor, brand_ids)
    print(f"PostgreSQL {version.split(' on ')[0]}, shared_buffers {shared_buffers}; {machine()}")
    print(f"members {members:,}, purchases {purchases:,}; load average {os.getloadavg()[0]:.1f}")

    if not args.skip_rebuild:
        started = time.perf_counter()
        written = member_stats_rebuild()
        rebuild = time.perf_counter() - started
        print(f"member_stats_rebuild(): {rebuild:.1f} s ({written['members']:,} member rows, "
              f"{written['months']:,} purchase-month rows)")
    with connection.cursor() as cursor:
        for table in ("segments_memberstats", "segments_memberpurchasemonth", "segments_membertagging"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("VACUUM ANALYZE members_member")

    brand = Brand.objects.get(pk=brand_ids[0])
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '60s'")  # a pathological plan shows as an error, not a hang
    rows = []
    with connection.cursor() as cursor:
        cases = definitions(brand.pk, cursor)
    for name, condition in cases:
        definition = definition_clean(brand=brand, definition=(condition if "op" in condition
                                                               else {"op": "and", "conditions": [condition]}))
        for scope, ctx, base in (
            ("brand 1", Context(brand_id=brand.pk, now=now), Member.objects.filter(brand_id=brand.pk)),
            ("all 1M", Context(brand_id=brand.pk, now=now, brand_ids=tuple(brand_ids)),
             Member.objects.filter(brand_id__in=brand_ids)),
        ):
            query = base.exclude(status=Member.Status.MERGED).filter(definition_q(definition, ctx))
            count = members_count(query)  # warm-up: plan, caches
            times = []
            for _run in range(args.runs):
                started = time.perf_counter()
                members_count(query)
                times.append(time.perf_counter() - started)
            rows.append((name, scope, count, statistics.median(times) * 1000, max(times) * 1000, query))
            print(f"  {name} ({scope}): {count:,} members, p50 {rows[-1][3]:.0f} ms, max {rows[-1][4]:.0f} ms",
                  flush=True)
    print()
    print("| condition | audience | members | p50 ms | max ms |")
    print("|---|---|---:|---:|---:|")
    for name, scope, count, p50, worst, _query in rows:
        print(f"| {name} | {scope} | {count:,} | {p50:.0f} | {worst:.0f} |")
    slowest = max(rows, key=lambda row: row[4])
    sql, params = slowest[5].values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{COUNT_WORK_MEM}'")
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) FROM ({sql}) q", params)  # noqa: S608
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(f"\nslowest: {slowest[0]} ({slowest[1]}), max {slowest[4]:.0f} ms; load average {os.getloadavg()[0]:.1f}")
    print(plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
