"""Time the nightly loyalty jobs on a seeded database (figures in BENCHMARKS.md).

    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.nightly_jobs

Seed first with ``manage.py bench_seed`` (``make bench-nightly`` does both). Runs
``points_expire_due``, ``expiry_reminders_create`` and, when it exists,
``loyalty.services.tiers.tiers_review``, each twice (the second run of the same day must
change nothing), then the ``verify_ledger`` checks, and prints a table.

Only the jobs are timed: the domain-event subscribers (the LINE fan-out after a tier
review, which runs on Celery workers in production and would run inline here, where
tasks are eager) are switched off for the run.
"""

import argparse
import os
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-verify", action="store_true", help="Do not run the verify_ledger checks after.")
    parser.add_argument("--all-tiers-due", action="store_true",
                        help="Worst case (1 January of a calendar-year program): make every member's tier due "
                             "for review today, then time the tier review alone.")
    return parser.parse_args(argv)


def rows_of(result) -> int:
    if isinstance(result, int):
        return result
    if isinstance(result, dict):
        for key in ("accounts", "rows", "changed", "changes"):
            if key in result:
                return int(result[key])
    return -1


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from loyalty import events

    events._subscribers.clear()  # time the jobs, not the LINE fan-out they trigger (see the docstring)
    from loyalty.services.expiry import expiry_reminders_create, points_expire_due
    from loyalty.services.verification import CHECKS, ledger_mismatches

    jobs = [("points_expire_due", points_expire_due), ("expiry_reminders_create", expiry_reminders_create)]
    try:
        from loyalty.services.tiers import tiers_review
    except ImportError:
        print("loyalty.services.tiers.tiers_review is not importable: tier review skipped", file=sys.stderr)
    else:
        jobs.append(("tiers_review", tiers_review))

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), pg_size_pretty(pg_database_size(current_database())), "
                       "(SELECT COUNT(*) FROM members_member), (SELECT COUNT(*) FROM loyalty_ledgerentry)")
        database, size, members, entries = cursor.fetchone()
    print(f"database {database}: {size}, {members:,} members, {entries:,} ledger entries; {os.cpu_count()} cores")

    if args.all_tiers_due:
        from django.utils import timezone

        from loyalty.services.tiers import review_cutoff

        with connection.cursor() as cursor:
            cursor.execute("UPDATE loyalty_membertier SET qualified_until = %s, grace_until = NULL, "
                           "grace_tier_id = NULL, override_until = NULL", [review_cutoff(timezone.now())])
            print(f"every member tier due today: {cursor.rowcount:,} rows", flush=True)
            cursor.execute("VACUUM ANALYZE loyalty_membertier")
        jobs = [job for job in jobs if job[0] == "tiers_review"]

    results = []
    for name, job in jobs:
        for run in (1, 2):
            started = time.perf_counter()
            result = job()
            seconds = time.perf_counter() - started
            results.append((name, run, rows_of(result), seconds, result))
            print(f"  {name} run {run}: {seconds:.2f} s  {result}", flush=True)

    verify_seconds, mismatches = None, None
    if not args.skip_verify:
        started = time.perf_counter()
        mismatches = ledger_mismatches()
        verify_seconds = time.perf_counter() - started

    print()
    print("| job | run | rows changed | seconds |")
    print("|---|---:|---:|---:|")
    for name, run, rows, seconds, _result in results:
        print(f"| `{name}` | {run} | {rows:,} | {seconds:.2f} |")
    if verify_seconds is not None:
        print(f"| `verify_ledger` ({len(CHECKS)} checks) | - | {len(mismatches)} mismatches | {verify_seconds:.2f} |")
    failed = [name for name, run, rows, _s, _r in results if run == 2 and rows not in (0, -1)]
    if failed:
        print(f"second run changed rows: {failed}", file=sys.stderr)
    if mismatches:
        for mismatch in mismatches[:20]:
            print(f"MISMATCH {mismatch}", file=sys.stderr)
    return 1 if failed or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
