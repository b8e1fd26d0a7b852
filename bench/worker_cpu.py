"""Celery worker CPU per purchase: what the domain events of one POS purchase cost the worker.

N purchases are recorded in this process through ``purchase_record`` with a real broker and no
worker running, so their events wait in the outbox; the relay (``events.resend_parked``, beat's
job) queues them as ``events_dispatch`` tasks of several purchases each. Then one
``celery worker`` process (prefork, concurrency 1, INFO logs, as production) is started with the
fake LINE server and drains the queue; its CPU (main + pool process, ``utime + stime`` from
``/proc``) from ready to empty queue, divided by N, is the figure. With ``--profile`` the worker
runs in one process (``--pool solo``) under cProfile and the top of the profile is printed.

    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.worker_cpu --purchases 300

Uses Redis database 12 of ``--redis`` (emptied before and after) and the brand's members (default
``bench-1``, with the ``bench-pos-load`` earn rule of ``bench/pos_load.py``); the purchases stay
in the database (order ids ``WC<run>-<n>``). Stops by itself (``--timeout``).
"""

import argparse
import collections
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.machine import free_port
from bench.pos_load import children, cpu_seconds

BASE_DIR = Path(__file__).resolve().parent.parent


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` and its child processes, in seconds."""
    return sum(cpu_seconds(each) or 0.0 for each in [pid, *children(pid)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=300)
    parser.add_argument("--brand", default="bench-1")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (database 12 is used)")
    parser.add_argument("--profile", action="store_true", help="one process under cProfile; print the profile")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    broker = f"{args.redis.rstrip('/')}/12"
    line_port = free_port()
    line_url = f"http://127.0.0.1:{line_port}"
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", CELERY_BROKER_URL=broker, LINE_API_BASE=line_url)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    import redis
    from django.utils import timezone

    from loyalty.services.earning import LineInput, purchase_record
    from members.models import Brand, Member

    queue = redis.Redis.from_url(broker)
    queue.flushdb()
    brand = Brand.objects.get(slug=args.brand)
    members = list(Member.objects.filter(brand=brand, status=Member.Status.ACTIVE).order_by("?")[:args.purchases])
    run = secrets.token_hex(3)
    for number in range(args.purchases):
        purchase_record(brand=brand, member=members[number % len(members)], channel="pos",
                        order_id=f"WC{run}-{number}", total=Decimal("250.00"),
                        lines=[LineInput(amount=Decimal("250.00"), sku="SKU01", category="coffee")],
                        purchased_at=timezone.now())
    from loyalty import events

    relayed = 0
    while True:  # what beat's relay does every second: the outbox's rows, several purchases per task
        # ≈ 40 purchases per task, as beat's relay (every second) forms them at ≈ 40 purchases/s
        moved = events.resend_parked(events_per_task=80)
        relayed += moved
        if not moved:
            break
    print(f"{args.purchases} purchases recorded; {relayed} outbox rows relayed as {queue.llen('celery')} tasks")

    work = Path(tempfile.mkdtemp(prefix="taem-worker-cpu-"))
    log_path, profile_path = work / "worker.log", work / "worker.prof"
    env = {**os.environ, "DJANGO_DEBUG": "0", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
           "LINE_ACCESS_BASE": line_url, "LINE_LOGIN_API_BASE": line_url}
    fake_line = subprocess.Popen([sys.executable, "-m", "messaging.fake_line", "--port", str(line_port),  # noqa: S603
                                  "--accept-any-token"], cwd=BASE_DIR, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    profiler = ["-m", "cProfile", "-o", str(profile_path)] if args.profile else []
    command = [sys.executable, *profiler, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
               "--concurrency", "1", *(["--pool", "solo"] if args.profile else []),
               "--hostname", f"workercpu{line_port}@%h", "--without-gossip", "--without-mingle",
               "--without-heartbeat"]
    with log_path.open("w") as log_file:
        worker = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log_file,  # noqa: S603
                                  stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    try:
        while " ready." not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        cpu_start, wall_start = process_cpu(worker.pid), time.monotonic()
        idle_checks = 0
        while idle_checks < 3:  # empty queue and nothing unacknowledged, three times 0.2 s apart
            if time.monotonic() > deadline:
                sys.exit("the worker did not drain the queue in time")
            busy = queue.llen("celery") or queue.hlen("unacked")
            idle_checks = 0 if busy else idle_checks + 1
            time.sleep(0.2)
        cpu, wall = process_cpu(worker.pid) - cpu_start, time.monotonic() - wall_start - 0.6
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        fake_line.terminate()
        queue.flushdb()
    received = collections.Counter(re.findall(r"Task ([\w.]+)\[[^\]]*\] received", log_path.read_text(errors="replace")))
    mode = "one process under cProfile" if args.profile else "prefork, 1 process"
    print(f"worker ({mode}): {cpu:.2f} s CPU for {args.purchases} purchases = "
          f"{cpu / args.purchases * 1000:.1f} ms per purchase; {wall:.1f} s to drain; tasks {dict(received)}")
    if args.profile:
        import pstats

        pstats.Stats(str(profile_path)).sort_stats("cumulative").print_stats(r"work/main/(loyalty|campaigns|messaging)", 40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
