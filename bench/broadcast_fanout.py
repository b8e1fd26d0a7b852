"""Broadcast fan-out: the seeded members handed to the fake LINE API by real Celery workers (BENCHMARKS.md).

    make bench-broadcast                      # or:
    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.broadcast_fanout

Needs ``manage.py bench_seed`` data (1,000,000 members, 80 % following the OA;
``make bench-nightly`` seeds it; ``--all-reachable`` makes all of them friends first) and Redis on 127.0.0.1:6379 (``scripts/ensure_redis.sh``).
Applies the ``broadcasts`` migrations. Then:

1. Setup (not timed; idempotent): each bench brand gets a LINE channel token, a published
   marketing-consent document and a grant for every member (one ``INSERT … SELECT``), and a
   segment with an empty definition (all its members). Earlier bench broadcasts, their
   outbound messages and deliveries are deleted.
2. Starts the fake LINE server (``python -m messaging.fake_line --accept-any-token``) in a
   process of its own, with LINE's multicast rate limit (``--rate``, 200 requests/s: 429
   beyond it), and a Celery worker (``--workers`` prefork processes, Redis database 13) with
   ``LINE_API_BASE`` pointing at it.
3. Timed: one broadcast per brand, a non-personalised text (so each batch of 500 is one
   multicast), started with ``broadcast_start`` (the set-based ``INSERT … SELECT`` of the
   recipients), sent by the worker's ``send_broadcast`` tasks until all three are *sent*.
4. Checks: every reachable member got exactly one message (the fake counts deliveries per
   user), and prints recipients/s, requests by status (200, 409, 429), and the total time.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROKER = "redis://127.0.0.1:6379/13"
BENCH_NAME = "bench: fan-out"
MULTICAST = "/v2/bot/message/multicast"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="Celery prefork processes (2).")
    parser.add_argument("--tasks", type=int, default=2, help="Batch tasks queued per broadcast (2).")
    parser.add_argument("--rate", type=float, default=200, help="Fake LINE multicast requests/s (200; 0: none).")
    parser.add_argument("--timeout", type=float, default=900, help="Give up after this many seconds (900).")
    parser.add_argument("--all-reachable", action="store_true",
                        help="First make every bench member a reachable LINE friend (1,000,000 recipients).")
    return parser.parse_args(argv)


def fake_call(base: str, path: str, body: dict | None = None):
    request = urllib.request.Request(base + path, method="POST" if body is not None else "GET",  # noqa: S310
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


def start_fake_line() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "messaging.fake_line", "--port", "0", "--accept-any-token"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = process.stdout.readline().strip()
    if not base.startswith("http"):
        process.kill()
        raise SystemExit("the fake LINE server did not start")
    return process, base


def start_worker(workers: int, fake_base: str) -> subprocess.Popen:
    env = {**os.environ, "CELERY_BROKER_URL": BROKER, "LINE_API_BASE": fake_base, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: S603 - our own venv's celery
        [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "-c", str(workers), "-P",
         "prefork", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING", "-n",
         f"bench-broadcast-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    from config.celery import app

    for _ in range(150):
        replies = app.control.ping(timeout=0.2) or []
        if any(f"bench-broadcast-{os.getpid()}@" in name for reply in replies for name in reply):
            return process
        if process.poll() is not None:
            raise SystemExit(f"the Celery worker stopped: {process.stderr.read()[-2000:]}")
    process.terminate()
    raise SystemExit("the Celery worker did not answer a ping")


def setup(brands, *, all_reachable: bool = False) -> list:
    """Tokens, marketing consent for every member, a segment per brand; earlier bench runs removed."""
    from django.db import connection

    if all_reachable:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE members_member SET line_user_id = COALESCE(line_user_id, 'Ubench' || id), "
                           "line_reachable = true WHERE brand_id = ANY(%s) AND NOT line_reachable",
                           [[brand.pk for brand in brands]])
            print(f"  {cursor.rowcount:,} members made reachable on LINE", flush=True)
            cursor.execute("VACUUM ANALYZE members_member")

    from campaigns.broadcasts.models import Broadcast, BroadcastBatch, BroadcastRecipient
    from campaigns.segments.models import Segment
    from consent.models import ConsentDocument, ConsentRecord, ConsentVersion
    from consent.services import consent_version_publish
    from messaging.models import MessageDelivery, OutboundMessage

    old = list(Broadcast.objects.filter(name=BENCH_NAME).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        for model in (BroadcastRecipient, BroadcastBatch):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE broadcast_id = ANY(%s)", [old])  # noqa: S608
        cursor.execute(f"DELETE FROM {MessageDelivery._meta.db_table} WHERE message_id IN (SELECT id FROM "  # noqa: S608
                       f"{OutboundMessage._meta.db_table} WHERE template LIKE 'broadcast%%' AND brand_id = ANY(%s))",
                       [[brand.pk for brand in brands]])
        cursor.execute(f"DELETE FROM {OutboundMessage._meta.db_table} WHERE template LIKE 'broadcast%%' "  # noqa: S608
                       "AND brand_id = ANY(%s)", [[brand.pk for brand in brands]])
    Broadcast.objects.filter(pk__in=old).delete()
    segments = []
    for brand in brands:
        brand.line_channel_access_token = f"bench-token-{brand.slug}"
        brand.save(update_fields=["line_channel_access_token"])
        document, created = ConsentDocument.objects.get_or_create(
            brand=brand, kind=ConsentDocument.Kind.MARKETING,
            defaults={"title_th": "รับข่าวสาร", "title_en": "News and offers", "is_required": False})
        version = ConsentVersion.objects.filter(document=document, status=ConsentVersion.Status.PUBLISHED).first()
        if version is None:
            version = consent_version_publish(version=ConsentVersion.objects.create(
                document=document, version=1, content_th="ยินยอมรับข่าวสาร", content_en="Send me offers"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ConsentRecord._meta.db_table} (member_id, document_id, version_id, granted, "  # noqa: S608
                "channel, reason, user_agent, created_at) "
                "SELECT m.id, %s, %s, true, 'import', '', '', now() FROM members_member m WHERE m.brand_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {ConsentRecord._meta.db_table} r "
                "WHERE r.member_id = m.id AND r.document_id = %s)",
                [document.pk, version.pk, brand.pk, document.pk])
            if cursor.rowcount:
                print(f"  {brand.slug}: marketing consent granted to {cursor.rowcount:,} members", flush=True)
                cursor.execute(f"ANALYZE {ConsentRecord._meta.db_table}")
        segment, _ = Segment.objects.get_or_create(brand=brand, name=BENCH_NAME, defaults={"definition": {}})
        segments.append(segment)
    return segments


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CELERY_BROKER_URL"] = BROKER  # the tasks go to the worker, not run eagerly here
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from campaigns.broadcasts.models import Broadcast, BroadcastRecipient
    from campaigns.broadcasts.selectors import broadcast_progress
    from campaigns.broadcasts.services import broadcast_start
    from config.celery import app
    from members.models import Brand

    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("run this on the benchmark database (DATABASE_URL=…/taem_bench)")
    call_command("migrate", "broadcasts", verbosity=0)
    brands = list(Brand.objects.filter(slug__startswith="bench-").order_by("pk"))
    if not brands:
        raise SystemExit("no bench brands: seed first (make bench-nightly)")
    started = time.perf_counter()
    print("setup …", flush=True)
    segments = setup(brands, all_reachable=args.all_reachable)
    print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)

    fake, base = start_fake_line()
    if args.rate:
        fake_call(base, "/__fake__/rate_limits", {"path": MULTICAST, "perSecond": args.rate})
    app.control.purge()
    worker = start_worker(args.workers, base)
    try:
        broadcasts = [Broadcast.objects.create(
            brand=brand, segment=segment, name=BENCH_NAME,
            text_th="สงกรานต์นี้ รับแต้มสองเท่าทุกสาขา 13-15 เม.ย.", text_en="Double points at every branch, 13-15 April")
            for brand, segment in zip(brands, segments, strict=True)]
        from django.conf import settings

        settings.BROADCAST_PARALLEL_TASKS = args.tasks
        clock = time.perf_counter()
        materialise = []
        for broadcast in broadcasts:
            step = time.perf_counter()
            rows = broadcast_start(broadcast=broadcast)
            materialise.append((broadcast.brand.slug, rows, time.perf_counter() - step))
            print(f"  {broadcast.brand.slug}: {rows:,} recipients written in {materialise[-1][2]:.1f} s", flush=True)
        last = 0
        while True:
            done = Broadcast.objects.filter(pk__in=[b.pk for b in broadcasts], status=Broadcast.Status.SENT).count()
            elapsed = time.perf_counter() - clock
            if done == len(broadcasts) or elapsed > args.timeout:
                break
            if elapsed - last >= 5:
                sent = sum(broadcast_progress(broadcast=b).sent for b in broadcasts)
                print(f"  {elapsed:6.1f} s: {sent:,} sent", flush=True)
                last = elapsed
            time.sleep(0.2)
        total = time.perf_counter() - clock
        stats = fake_call(base, "/__fake__/stats")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        fake.terminate()
        fake.wait(timeout=30)

    rows = dict(BroadcastRecipient.objects.filter(broadcast__in=broadcasts).values_list("status")
                .annotate(n=Count("pk")).order_by())
    sent = rows.get("sent", 0)
    requests = stats["requests"]
    summary = {
        "members": sum(r for _, r, _ in materialise),
        "recipient_rows_by_status": rows,
        "handed_to_line": stats["deliveries"],
        "users_reached": stats["users"],
        "max_messages_per_user": stats["maxPerUser"],
        "multicast_requests": {key.split()[-1]: n for key, n in requests.items() if key.startswith(MULTICAST)},
        "materialise_s": round(sum(s for _, _, s in materialise), 1),
        "total_s": round(total, 1),
        "recipients_per_s": round(sent / total) if total else 0,
        "all_sent": all(b.status == "sent" for b in Broadcast.objects.filter(pk__in=[b.pk for b in broadcasts])),
        "workers": args.workers, "rate_limit_per_s": args.rate,
        "nproc": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    ok = summary["all_sent"] and summary["max_messages_per_user"] == 1 and stats["deliveries"] == sent
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
