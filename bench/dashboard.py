"""Time the dashboard's daily-fact build and its queries on the seeded database (BENCHMARKS.md).

    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.dashboard

Needs ``manage.py bench_seed`` data (1,000,000 members, 9,000,000 purchases over 3 brands;
``make bench-nightly`` seeds it; this never reseeds) and applies the ``analytics`` migrations.
Builds every day's facts of every brand set-based (``facts_rebuild`` over the whole purchase
history, one statement per table), then times ``--runs`` times (after one warm-up), for brand 1
(333,334 members, 3,000,000 purchases): ``dashboard_data`` for this month, last 30 and last 90
days, and the whole staff view (``GET /admin/analytics/dashboard/``, rendered, today's facts
already fresh); then the rebuild of one day (the nightly job) and of today (the dashboard's
on-demand refresh). ``--skip-build`` reuses the facts already built.
"""

import argparse
import os
import statistics
import time
from datetime import timedelta

from bench.machine import machine


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per measure (7).")
    parser.add_argument("--skip-build", action="store_true", help="Reuse the facts already built.")
    return parser.parse_args(argv)


def timed(function, runs: int, setup=None) -> tuple[float, float]:
    """p50 and max in ms of ``function`` after one warm-up; ``setup`` runs before each call, untimed."""
    if setup:
        setup()
    function()
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from campaigns.analytics.facts import bangkok_today, facts_rebuild, facts_refresh_today
    from campaigns.analytics.kpis import dashboard_data, dashboard_warm, live_figures_refresh, period_for
    from campaigns.analytics.models import MemberDayFact
    from loyalty.models import Purchase
    from members.models import Brand

    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    for label in ("missions", "draws", "leaderboards", "coupon_campaigns", "analytics"):  # the tables it reads
        call_command("migrate", label, verbosity=0)
    brand = Brand.objects.order_by("pk").first()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(purchased_at), max(purchased_at), count(*) FROM {Purchase._meta.db_table}")  # noqa: S608
        first, last, purchases = cursor.fetchone()
    print(f"Purchases: {purchases:,} from {first:%Y-%m-%d} to {last:%Y-%m-%d}; brand {brand.slug} timed")
    if not args.skip_build:
        started = time.perf_counter()
        facts_rebuild(start=min(first.date(), bangkok_today()) - timedelta(days=1),
                      end=bangkok_today())
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE analytics_memberdayfact; ANALYZE analytics_branddayfact; "
                           "ANALYZE analytics_dimensiondayfact")
        print(f"Full facts build (all brands, all days): {time.perf_counter() - started:.1f} s; "
              f"member-day rows {MemberDayFact.objects.count():,}")
        with connection.cursor() as cursor:  # as autovacuum leaves it: index-only scans need the visibility map
            cursor.execute("VACUUM ANALYZE analytics_memberdayfact")
    from django.core.cache import cache

    facts_refresh_today(brand_id=brand.pk, force=True)
    today_key = f"analytics:today:{brand.pk}:{bangkok_today().isoformat()}"

    def nothing_cached():  # the very first view after installing: today's facts fresh, nothing else
        cache.clear()
        cache.set(today_key, 1, 3600)

    def kpis_cold():  # a period nobody has looked at since its facts were rebuilt: its KPIs are not cached,
        nothing_cached()  # the current-state figures are kept (computed by the warm-up or a refresh)
        live_figures_refresh(brand=brand)

    rows = []
    started = time.perf_counter()
    dashboard_warm(brand_ids=[brand.pk])
    rows.append(("dashboard_warm (4 standard periods + compared periods + current figures), one brand",
                 (time.perf_counter() - started) * 1000, (time.perf_counter() - started) * 1000))
    for name in ("this_month", "last_30", "last_90"):
        period = period_for(name)
        p50, worst = timed(lambda period=period: dashboard_data(brand=brand, period=period), args.runs,
                           setup=kpis_cold)
        rows.append((f"dashboard_data {name}, period KPIs cold", p50, worst))
    p50, worst = timed(lambda: dashboard_data(brand=brand, period=period_for("last_30")), args.runs,
                       setup=nothing_cached)
    rows.append(("dashboard_data last_30, nothing cached (first view after installing)", p50, worst))
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-dashboard",
                                                     defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    for name in ("this_month", "last_30", "last_90"):
        url = f"/admin/analytics/dashboard/?brand={brand.pk}&period={name}"

        def view(url=url):
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        p50, worst = timed(view, args.runs, setup=kpis_cold)
        rows.append((f"whole view {name}, period KPIs cold", p50, worst))
        p50, worst = timed(view, args.runs)
        rows.append((f"whole view {name}, warm (cached KPIs)", p50, worst))
    yesterday = bangkok_today() - timedelta(days=1)
    p50, worst = timed(lambda: facts_rebuild(start=yesterday), max(1, args.runs // 3))
    rows.append(("nightly rebuild of one day (all brands)", p50, worst))
    p50, worst = timed(lambda: facts_refresh_today(brand_id=brand.pk, force=True), max(1, args.runs // 3))
    rows.append(("today's refresh (one brand)", p50, worst))
    print("| measure | p50 ms | max ms |\n|---|---:|---:|")
    for label, p50, worst in rows:
        print(f"| {label} | {p50:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()
