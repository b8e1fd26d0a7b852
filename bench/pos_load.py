"""POS earn throughput through the real HTTP stack, and the same earn as raw SQL (pgbench).

The HTTP load (the default) runs against ``scripts/prod_local.sh`` (gunicorn sync workers, one
Celery worker, beat, Redis, the fake LINE server, production settings) on the database in
``DATABASE_URL`` (the seeded ``taem_bench``: 1,000,000 members; the earns add rows to it)::

    ./scripts/ensure_postgres.sh && ./scripts/ensure_redis.sh && ./scripts/ensure_wrk.sh
    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.pos_load

1. Peak: ``wrk`` (a C load generator, a second process) posts ``POST /api/v1/purchases/`` in a
   closed loop at increasing connection counts; every body has a unique ``order_id`` and a
   random existing member of the brand (by member code). The peak is the best requests/s.
2. Fixed rate at 50 % and 100 % of the peak: an open-loop generator (asyncio, this process)
   sends at a constant arrival rate whatever the server does, and measures each latency from
   the request's *intended* send time (no coordinated omission).
   With a Celery worker, each step starts with an empty queue, and after it the run waits (at most
   300 s) for the worker to handle the step's events: the sustained rate of the whole stack is
   the purchases divided by (step time + catch-up time).
3. Memory: the peak RSS (``VmHWM``, and the largest ``VmRSS`` sampled during the load) of each
   gunicorn worker and of the Celery worker's processes.
4. Checks: every purchase the clients were told about is in the database, and every account the
   run touched still has ``balance == sum(entries) == sum(open lots)``.

``--pgbench`` runs the same earn transaction as raw SQL (``bench/pos_pgbench.sql``) with
``pgbench`` at the same client counts: the machine's limit. ``--paired N`` alternates the two, N
rounds of pgbench then the HTTP path alone (no Celery worker) at each client count, and reports
each pair's ratio and the median: the machine's speed drifts between separate runs. ``--profile N`` posts N purchases
in-process through Django's WSGI application under cProfile and prints the SQL of one request.

Setup it leaves in the database: an earn rule ``bench-pos-load`` (1 point per 25 THB, the
brand's default currency; made once, reused) and one API key ``bench-pos-load <hex>`` per run,
revoked at its end. Redis database 11 carries the run's Celery queue and
cache (purged before and after). ``--lock FILE`` takes an exclusive ``flock`` on FILE around
each measurement (the machine is shared). It stops by itself: every step has a duration and
every wait a timeout.
"""

import argparse
import asyncio
import contextlib
import cProfile
import fcntl
import io
import json
import math
import os
import pstats
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.machine import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
PGBENCH_SCRIPT = Path(__file__).resolve().parent / "pos_pgbench.sql"
PROD_LOCAL = BASE_DIR / "scripts" / "prod_local.sh"
PURCHASES_PATH = "/api/v1/purchases/"
KEY_NAME = RULE_NAME = "bench-pos-load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"  # this benchmark's own database number
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 240
STOP_TIMEOUT = 60


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pos_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--brand", default="bench-1", help="brand slug whose members buy (bench-1)")
    parser.add_argument("--connections", default="1,2,4,8,16",
                        help="closed-loop connection counts for the peak, and pgbench client counts (1,2,4,8,16)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per closed-loop step (15)")
    parser.add_argument("--fractions", default="0.5,1.0", help="fixed rates as fractions of the peak (0.5,1.0)")
    parser.add_argument("--rates", default="",
                        help="fixed rates in requests/s instead of fractions of a measured peak (skips the peak)")
    parser.add_argument("--rate-duration", type=float, default=30.0, help="seconds per fixed-rate run (30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of unmeasured load first (5)")
    parser.add_argument("--lines", type=int, default=1, help="lines per purchase (1)")
    parser.add_argument("--members-sample", type=int, default=100_000,
                        help="random members of the brand the purchases go to (100000)")
    parser.add_argument("--web-workers", type=int, default=3,
                        help="gunicorn sync workers (3: cores + 1, the best of 2-4 on 2 vCPU)")
    parser.add_argument("--celery-concurrency", type=int, default=2,
                        help="Celery worker processes (2); 0: no worker runs (--stack own only), the tasks only "
                             "queue up: the HTTP path alone, without the worker's share of the CPUs")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    parser.add_argument("--stack", choices=["auto", "prod-local", "own"], default="auto",
                        help="prod-local: scripts/prod_local.sh (it migrates the database first); own: the same "
                             "processes and settings started here, without migrating; auto (default): prod-local "
                             "unless the database has unapplied migrations (a shared bench database is never "
                             "migrated behind its owners' backs)")
    parser.add_argument("--redis-url", default=os.environ.get("TAEM_BENCH_POS_REDIS_URL", DEFAULT_REDIS),
                        help=f"Celery broker and cache of the run ({DEFAULT_REDIS})")
    parser.add_argument("--lock", default="", metavar="FILE",
                        help="flock FILE around each measurement (e.g. /tmp/notes/bench.lock)")
    parser.add_argument("--lock-timeout", type=float, default=900.0, help="seconds to wait for --lock (900)")
    parser.add_argument("--pgbench", action="store_true", help="instead: the raw-SQL earn with pgbench")
    parser.add_argument("--paired", type=int, metavar="N", default=0,
                        help="instead: N rounds of pgbench then the HTTP path alone at each --connections count, "
                             "one right after the other; each pair's ratio and the median")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="instead: cProfile N in-process requests (Django test client) and print one's SQL")
    parser.add_argument("--without-subscribers", action="store_true",
                        help="--profile: switch the domain-event subscribers off (what the earn itself costs)")
    parser.add_argument("--sort", default="cumulative", help="--profile: pstats sort key (cumulative; tottime)")
    parser.add_argument("--cpu-timer", action="store_true",
                        help="--profile: count this process's CPU time only (waits on PostgreSQL and Redis left out)")
    parser.add_argument("--json-out", default="", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if sum(map(bool, (args.pgbench, args.paired, args.profile))) > 1:
        parser.error("--pgbench, --paired and --profile are separate runs: choose one")
    args.connection_counts = [int(part) for part in args.connections.split(",") if part.strip()]
    args.fraction_list = [float(part) for part in args.fractions.split(",") if part.strip()]
    args.rate_list = [float(part) for part in args.rates.split(",") if part.strip()]
    return args


# --- shared helpers -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def latency_summary(latencies: list[float]) -> dict:
    """Seconds in, milliseconds out."""
    values = sorted(latencies)
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(percentile(values, 0.50) * 1000, 1), "p90_ms": round(percentile(values, 0.90) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1), "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1)}


@contextlib.contextmanager
def measurement_lock(path: str, timeout: float):
    """An exclusive ``flock`` on ``path`` (the convention ``flock FILE command`` uses) for one measurement."""
    if not path:
        yield
        return
    with open(path, "a") as handle:  # noqa: PTH123 - a lock file, kept open while held
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} still locked after {timeout:.0f} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_facts() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    return {"nproc": os.cpu_count(), "mem_gib": round(total_kb / 1024 / 1024, 1)}


def open_loop(requests: list[bytes], rate: float, port: int, ok_status: int, *, host: str = "127.0.0.1",
              timeout: float = REQUEST_TIMEOUT, deadline_s: float | None = None) -> dict:
    """Send ``requests`` (whole raw HTTP/1.1 requests, each with ``Connection: close``) at a constant
    ``rate`` per second, open loop: request i is due at start + i / rate whatever happened to the
    ones before. Each latency runs from that intended time to the end of the response, so a server
    that stalls is charged for every request that waited (no coordinated omission).

    Returns the achieved rate, latency percentiles, errors by kind and how late the generator
    itself started requests (a sign that the client, not the server, was the bottleneck).
    """
    return asyncio.run(_open_loop(requests, rate, port, ok_status, host, timeout, deadline_s))


async def _open_loop(requests, rate, port, ok_status, host, timeout, deadline_s) -> dict:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    send_lag: list[float] = []
    errors: dict[str, int] = {}
    first_error: list[str] = []

    def error(kind: str, detail: str = "") -> None:
        errors[kind] = errors.get(kind, 0) + 1
        if detail and len(first_error) < 3:
            first_error.append(detail)

    async def one(raw: bytes, intended: float) -> None:
        send_lag.append(loop.time() - intended)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (TimeoutError, OSError) as exc:
            error("connect", repr(exc))
            return
        try:
            writer.write(raw)
            response = await asyncio.wait_for(reader.read(), timeout)  # to EOF: Connection: close
        except (TimeoutError, OSError) as exc:
            error("timeout" if isinstance(exc, asyncio.TimeoutError) else "read", repr(exc))
            return
        finally:
            writer.close()
        done = loop.time()
        status_line = response.split(b"\r\n", 1)[0].split(b" ")
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if status != ok_status:
            error(f"http_{status}", response[:300].decode(errors="replace"))
            return
        latencies.append(done - intended)

    count = len(requests)
    start = loop.time() + 0.1
    tasks = set()
    hard_stop = start + (deadline_s if deadline_s else count / rate + timeout + 5)
    for index, raw in enumerate(requests):
        intended = start + index / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if loop.time() > hard_stop:
            error("deadline")
            break
        task = loop.create_task(one(raw, intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_until = loop.time()
    if tasks:
        await asyncio.wait(tasks, timeout=max(1.0, hard_stop - loop.time()))
    for task in list(tasks):
        task.cancel()
        error("unfinished")
    elapsed = max(sent_until - start, 1e-9)
    lag = sorted(send_lag)
    return {
        "target_rate": round(rate, 1),
        "sent": len(send_lag),
        "ok": len(latencies),
        "achieved_rate": round(len(latencies) / elapsed, 1),
        **latency_summary(latencies),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "first_errors": first_error,
        "send_lag_p99_ms": round(percentile(lag, 0.99) * 1000, 1) if lag else None,
    }


# --- environment and the bench data ----------------------------------------------------------------


def django_setup(redis_url: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "CELERY_BROKER_URL": redis_url,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    })
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    # The brands' LINE secrets are encrypted with a key derived from the secret key: use the one the
    # seeding and the other benchmarks used (var/secret_key, made by settings) unless one is set.
    default_key_file = BASE_DIR / "var" / "secret_key"
    if "DJANGO_SECRET_KEY" not in os.environ and default_key_file.exists():
        os.environ["DJANGO_SECRET_KEY"] = default_key_file.read_text().strip()
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()


@dataclass
class BenchData:
    brand_id: int
    currency_id: int
    rule_points: int
    rule_spend: str
    raw_key: str
    key_id: int
    member_codes: list[str]
    branch_codes: list[str]
    members_total: int


def prepare(args: argparse.Namespace) -> BenchData:
    """The earn rule and API key (idempotent), a random sample of the brand's active members."""
    from django.db import transaction

    from loyalty.models import EarnRule, PointCurrency
    from members.models import ApiKey, Branch, Brand, Member

    brand = Brand.objects.get(slug=args.brand)
    currency = PointCurrency.objects.get(brand=brand, is_default=True)
    with transaction.atomic():
        rule = EarnRule.objects.filter(brand=brand, currency=currency, name=RULE_NAME).first()
        if rule is None:
            rule = EarnRule.objects.create(brand=brand, currency=currency, name=RULE_NAME, points=1,
                                           spend_amount=25, is_active=True)
        elif not rule.is_active:
            EarnRule.objects.filter(pk=rule.pk).update(is_active=True)
        # A key of its own per run (revoked at the end): two runs at once never invalidate each other's.
        raw_key = ApiKey.new_raw_key()
        key = ApiKey(brand=brand, name=f"{KEY_NAME} {secrets.token_hex(4)}", channel="pos")
        key.set_key(raw_key)
        key.save()
    ids = list(Member.objects.filter(brand=brand, status=Member.Status.ACTIVE).values_list("pk", flat=True))
    picked = random.sample(ids, min(args.members_sample, len(ids)))
    codes = list(Member.objects.filter(pk__in=picked).values_list("code", flat=True))
    branches = list(Branch.objects.filter(brand=brand, is_active=True).values_list("code", flat=True))
    return BenchData(brand_id=brand.pk, currency_id=currency.pk, rule_points=rule.points,
                     rule_spend=str(rule.spend_amount), raw_key=raw_key, key_id=key.pk, member_codes=codes,
                     branch_codes=branches or [""], members_total=len(ids))


def revoke_key(data: BenchData) -> None:
    from django.utils import timezone

    from members.models import ApiKey

    ApiKey.objects.filter(pk=data.key_id).update(revoked_at=timezone.now())


def purchase_body(data: BenchData, order_id: str, lines: int) -> dict:
    total = random.randint(50, 3000)
    amounts = [total // lines] * lines
    amounts[0] += total - sum(amounts)
    body = {"order_id": order_id, "member": {"code": random.choice(data.member_codes)}, "total": f"{total}.00",
            "lines": [{"sku": f"SKU{random.randint(1, 40):02d}", "category": "coffee", "quantity": 1,
                       "amount": f"{amount}.00"} for amount in amounts]}
    branch = random.choice(data.branch_codes)
    if branch:
        body["branch"] = branch
    return body


def raw_post(path: str, body: bytes, headers: dict[str, str], port: int) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            f"Content-Length: {len(body)}"] + [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def purchase_max_id() -> int:
    from loyalty.models import Purchase

    return Purchase.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def check_run(after_id: int, prefix: str) -> dict:
    """Purchases written by this run (ids above ``after_id`` whose order id starts with ``prefix``),
    and the ledger invariants of every account they touched."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH run AS (SELECT id, member_id FROM loyalty_purchase WHERE id > %s AND order_id LIKE %s),
                 accounts AS (SELECT DISTINCT e.account_id AS id FROM loyalty_ledgerentry e
                              JOIN run ON e.purchase_id = run.id)
            SELECT (SELECT count(*) FROM run),
                   (SELECT count(*) FROM loyalty_ledgerentry e JOIN run ON e.purchase_id = run.id),
                   (SELECT count(*) FROM accounts),
                   (SELECT count(*) FROM accounts JOIN loyalty_pointaccount a ON a.id = accounts.id
                     WHERE a.balance <> (SELECT coalesce(sum(amount), 0) FROM loyalty_ledgerentry
                                          WHERE account_id = a.id)
                        OR a.balance <> (SELECT coalesce(sum(remaining), 0) FROM loyalty_pointlot
                                          WHERE account_id = a.id))
            """,
            [after_id, like_prefix(prefix)],
        )
        purchases, entries, accounts, mismatched = cursor.fetchone()
    return {"purchases": purchases, "earn_entries": entries, "accounts": accounts,
            "accounts_mismatched": mismatched}


def queue_length(redis_url: str) -> int:
    from config.celery import app

    with app.connection_for_write(redis_url) as broker:
        try:
            return broker.default_channel.queue_declare(queue=app.conf.task_default_queue,
                                                        passive=True).message_count
        except broker.channel_errors:
            return 0


def like_prefix(prefix: str) -> str:
    """A LIKE pattern for order ids starting with ``prefix`` (its underscores matched literally)."""
    return prefix.replace("_", r"\_") + "%"


def outbox_length() -> int:
    """Rows of the domain events' outbox (the purchases' events until beat's relay queues them)."""
    from loyalty.models import ParkedEvents

    return ParkedEvents.objects.count()


def outbox_last_id() -> int:
    from loyalty.models import ParkedEvents

    return ParkedEvents.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def outbox_clear(after_id: int, prefix: str) -> int:
    """This run's outbox rows (nothing relays them without a worker and beat), deleted at the end:
    those written since ``after_id`` for purchases whose order id starts with ``prefix``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM loyalty_parkedevents outbox
             WHERE outbox.id > %s
               AND EXISTS (SELECT 1 FROM jsonb_array_elements(outbox.batch) item
                             JOIN loyalty_purchase purchase ON purchase.id = (item->1->>'purchase_id')::bigint
                            WHERE item->>0 = 'purchase_recorded' AND purchase.order_id LIKE %s)
            """,
            [after_id, like_prefix(prefix)],
        )
        return cursor.rowcount


def drain_wait(redis_url: str, timeout: float = 300.0) -> float | None:
    """With a Celery worker and beat running: seconds until the outbox and the queue are empty (the
    relay and the worker caught up with the step's events), or None when not within ``timeout``."""
    start = time.monotonic()
    while outbox_length() > 0 or queue_length(redis_url) > 0:
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.2)
    return round(time.monotonic() - start, 1)


def with_drain(row: dict, args: argparse.Namespace, seconds: float) -> str:
    """Wait for the worker to catch up after a step; the whole stack's sustained rate counts that time."""
    if not args.celery_concurrency:
        return ""
    drained = drain_wait(args.redis_url)
    row["drain_s"] = drained
    if drained is None:
        return ", the worker did not catch up within 300 s"
    row["sustained_per_s"] = round(row["ok"] / (seconds + drained), 1)
    return f", worker caught up {drained} s after: {row['sustained_per_s']} purchases/s sustained"


def purge_queue(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # database 11 is this benchmark's alone: its queue and its cache


# --- memory ------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, field_name: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


class MemorySampler:
    """Samples VmRSS of the web workers and the Celery worker's processes every 0.5 s."""

    def __init__(self, roles: dict[str, int]):
        self.roots = roles  # role -> root pid (gunicorn master, celery main process)
        self.max_rss: dict[int, int] = {}
        self.role_of: dict[int, str] = {}
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def pids(self) -> dict[int, str]:
        found = {}
        for role, root in self.roots.items():
            if role == "web":
                found.update(dict.fromkeys(children(root), "web worker"))
            else:
                found[root] = "celery main"
                found.update(dict.fromkeys(children(root), "celery pool"))
        return found

    def sample(self) -> None:
        for pid, role in self.pids().items():
            rss = status_kb(pid, "VmRSS")
            cpu = cpu_seconds(pid)
            if rss is not None:
                self.role_of[pid] = role
                self.max_rss[pid] = max(rss, self.max_rss.get(pid, 0))
            if cpu is not None:
                self.cpu_first.setdefault(pid, cpu)
                self.cpu_last[pid] = cpu

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            self.sample()

    def __enter__(self):
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=5)

    def report(self) -> list[dict]:
        rows = []
        for pid, role in sorted(self.role_of.items(), key=lambda item: (item[1], item[0])):
            hwm = status_kb(pid, "VmHWM")
            cpu = self.cpu_last.get(pid, 0.0) - self.cpu_first.get(pid, 0.0)
            rows.append({"role": role, "pid": pid, "max_rss_mib": round(self.max_rss[pid] / 1024, 1),
                         "vmhwm_mib": round(hwm / 1024, 1) if hwm else None, "cpu_s": round(cpu, 1)})
        return rows


# --- the stack ---------------------------------------------------------------------------------------


@dataclass
class Stack:
    port: int
    directory: Path
    kind: str
    env: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict)  # own stack: name -> Popen

    def run(self, action: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - the project's own script, fixed argv
            ["/bin/bash", str(PROD_LOCAL), action], cwd=BASE_DIR, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def pid(self, name: str) -> int:
        if self.kind == "own":
            return self.processes[name].pid
        return int((self.directory / f"{name}.pid").read_text().strip())


def unapplied_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def stack_start(args: argparse.Namespace, directory: Path) -> Stack:
    """The production topology on loopback: ``scripts/prod_local.sh start`` with its own port, directory
    and Redis database (so it never touches another ``prod-local`` run's processes), or the same
    processes with the same settings started here (``--stack own``), without migrating."""
    kind = args.stack
    if kind == "auto":
        pending = unapplied_migrations()
        kind = "own" if pending or not PROD_LOCAL.exists() else "prod-local"
        if pending:
            print(f"the database has {len(pending)} unapplied migration(s) ({', '.join(pending[:3])}…): prod_local.sh "
                  f"would apply them, so the same processes are started here without migrating")
    port = args.port or free_port()
    fake_line_port = free_port()
    redis_server = args.redis_url.rsplit("/", 1)[0]
    env = {**os.environ, "PORT": str(port), "FAKE_LINE_PORT": str(fake_line_port), "PROD_LOCAL_DIR": str(directory),
           "WEB_WORKERS": str(args.web_workers), "CELERY_CONCURRENCY": str(args.celery_concurrency),
           "PROD_LOCAL_REDIS": redis_server, "CELERY_BROKER_URL": args.redis_url, "CACHE_URL": args.redis_url,
           "START_TIMEOUT": "120"}
    for name in ("DJANGO_SETTINGS_MODULE", "TAEM_VAR_DIR", "DJANGO_DEBUG"):  # the script sets its own
        env.pop(name, None)
    if kind == "own" or args.celery_concurrency == 0:
        return own_stack_start(args, directory, env, port, fake_line_port)
    stack = Stack(port=port, directory=directory, kind=kind, env=env)
    result = stack.run("start", START_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"prod_local.sh start failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return stack


def own_stack_start(args: argparse.Namespace, directory: Path, env: dict, port: int, fake_line_port: int) -> Stack:
    """gunicorn, one Celery worker and the fake LINE server with prod_local.sh's commands and settings
    (production mode, JSON logs at INFO), minus collectstatic and migrate (beat runs with a worker)."""
    directory.mkdir(parents=True, exist_ok=True)
    fake_line = f"http://127.0.0.1:{fake_line_port}"
    env = {**env, "TAEM_PRODUCTION": "1", "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_CONN_MAX_AGE": env.get("DATABASE_CONN_MAX_AGE", "60"), "TAEM_VAR_DIR": str(directory),
           "DJANGO_MEDIA_ROOT": str(directory / "media"), "DJANGO_STATIC_ROOT": str(directory / "static"),
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_HTTPS": "0", "SITE_URL": f"http://127.0.0.1:{port}",
           "LINE_API_BASE": fake_line, "LINE_LOGIN_API_BASE": fake_line, "LINE_ACCESS_BASE": fake_line,
           "LIFF_MOCK": "1", "LINE_LOGIN_CHANNEL_ID": "1650000000", "LOG_FORMAT": env.get("LOG_FORMAT", "json"),
           "LOG_LEVEL": env.get("LOG_LEVEL_STACK", "INFO"), "OMP_THREAD_LIMIT": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("CELERY_RESULT_BACKEND", None)
    commands = {
        "fake_line": [sys.executable, "-m", "messaging.fake_line", "--port", str(fake_line_port), "--accept-any-token"],
        "web": [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(args.web_workers), "--timeout", "30", "--graceful-timeout", "10",
                "--log-level", "warning"],
        "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency",
                   str(args.celery_concurrency), "--hostname", f"posload{port}@%h"],
        # The relay of the domain events' outbox runs from beat (every second; the whole schedule
        # runs, from the database, as under prod_local.sh).
        "beat": [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING"],
    }
    if args.celery_concurrency == 0:
        del commands["worker"], commands["beat"]
    stack = Stack(port=port, directory=directory, kind="own", env=env)
    for name, command in commands.items():
        with (directory / f"{name}.log").open("ab") as log_file:
            stack.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for name, process in stack.processes.items():
            if process.poll() is not None:
                stack_stop(stack)
                log = (directory / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited during start ({process.returncode}):\n{log}")
        if http_status(port, "/healthz") == 200:
            return stack
        time.sleep(0.5)
    stack_stop(stack)
    raise RuntimeError(f"/healthz did not answer 200 within {START_TIMEOUT} s")


def http_status(port: int, path: str) -> int:
    import http.client

    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return 0


def stack_stop(stack: Stack) -> None:
    if stack.kind != "own":
        result = stack.run("stop", STOP_TIMEOUT)
        if result.returncode != 0:
            print(f"prod_local.sh stop: {result.stderr[-1000:]}", file=sys.stderr)
        return
    for process in reversed(list(stack.processes.values())):  # worker, web, fake LINE
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in stack.processes.values():
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- wrk (closed loop) -------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Unique POS purchases for wrk: member codes from a file, order ids PREFIX-THREAD-N.
local counter = 0
local codes, branches = {}, {}
local prefix = os.getenv("POS_LOAD_PREFIX")
local lines = tonumber(os.getenv("POS_LOAD_LINES") or "1")
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
end

function init(args)
  for code in io.lines(os.getenv("POS_LOAD_MEMBERS")) do codes[#codes + 1] = code end
  for code in string.gmatch(os.getenv("POS_LOAD_BRANCHES") or "", "[^,]+") do branches[#branches + 1] = code end
  math.randomseed(os.time() * 1000 + thread_id)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Api-Key " .. os.getenv("POS_LOAD_KEY")
end

function request()
  counter = counter + 1
  local total = math.random(50, 3000)
  local share = math.floor(total / lines)
  local items = {}
  for i = 1, lines do
    local amount = share
    if i == 1 then amount = total - share * (lines - 1) end
    items[i] = string.format('{"sku":"SKU%02d","category":"coffee","quantity":1,"amount":"%d.00"}',
                             math.random(1, 40), amount)
  end
  local branch = ""
  if #branches > 0 then branch = string.format(',"branch":"%s"', branches[math.random(#branches)]) end
  local body = string.format('{"order_id":"%s-%d-%d","member":{"code":"%s"},"total":"%d.00","lines":[%s]%s}',
                             prefix, thread_id, counter, codes[math.random(#codes)], total,
                             table.concat(items, ","), branch)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def wrk_run(port: int, connections: int, duration: float, script: Path, env: dict) -> dict:
    command = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
               "--timeout", f"{int(REQUEST_TIMEOUT)}s", "-s", str(script), f"http://127.0.0.1:{port}{PURCHASES_PATH}"]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,  # noqa: S603
                            timeout=duration + REQUEST_TIMEOUT + 30, check=False)
    match = re.search(r"WRK_JSON (\{.*\})", result.stdout)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout[-1500:]} {result.stderr[-1500:]}")
    raw = json.loads(match.group(1))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    ok = raw["requests"] - raw["status"]
    return {"connections": connections, "requests": raw["requests"], "ok": ok,
            "requests_per_s": round(ok / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 1), "p90_ms": round(raw["p90_us"] / 1000, 1),
            "p99_ms": round(raw["p99_us"] / 1000, 1), "max_ms": round(raw["max_us"] / 1000, 1),
            "errors": errors, "errors_by_kind": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")
                                                  if raw[k]}}


# --- the HTTP load -----------------------------------------------------------------------------------


def run_http(args: argparse.Namespace) -> int:
    shutil.which("wrk") or sys.exit("wrk is missing: ./scripts/ensure_wrk.sh installs it")
    django_setup(args.redis_url)
    data = prepare(args)
    run_id = secrets.token_hex(3)
    prefix = f"PL{run_id}"
    purge_queue(args.redis_url)
    first_id = purchase_max_id()
    outbox_first_id = outbox_last_id()
    results: dict = {"machine": machine_facts(), "brand": args.brand, "members_in_brand": data.members_total,
                     "members_sampled": len(data.member_codes), "lines_per_purchase": args.lines,
                     "rule": f"{data.rule_points} point / {data.rule_spend} THB", "closed_loop": [],
                     "fixed_rate": []}
    told_ok = 0
    with tempfile.TemporaryDirectory(prefix="taem-pos-load-") as work:
        work_dir = Path(work)
        members_file = work_dir / "members.txt"
        members_file.write_text("\n".join(data.member_codes) + "\n")
        script = work_dir / "purchases.lua"
        script.write_text(WRK_SCRIPT)
        wrk_env = {"POS_LOAD_MEMBERS": str(members_file), "POS_LOAD_KEY": data.raw_key,
                   "POS_LOAD_BRANCHES": ",".join(code for code in data.branch_codes if code),
                   "POS_LOAD_LINES": str(args.lines)}
        stack = stack_start(args, work_dir / "prod-local")
        results["stack"] = stack.kind
        results["web_workers"], results["celery_concurrency"] = args.web_workers, args.celery_concurrency
        beat = ", beat" if args.celery_concurrency else " (no beat: the events stay in the outbox)"
        worker = f"Celery worker x{args.celery_concurrency}" if args.celery_concurrency else "no Celery worker"
        print(f"stack ({stack.kind}) up: gunicorn {args.web_workers} sync workers on 127.0.0.1:{stack.port}, "
              f"{worker}{beat}, fake LINE; broker {args.redis_url}; load average {load_average()}")
        try:
            roles = {"web": stack.pid("web")}
            if args.celery_concurrency:
                roles["celery"] = stack.pid("worker")
            with MemorySampler(roles) as sampler:
                wrk_run(stack.port, 2, args.warmup, script, {**wrk_env, "POS_LOAD_PREFIX": f"{prefix}w"})
                if args.celery_concurrency:
                    drain_wait(args.redis_url)  # every step starts with the worker caught up
                peak = None
                if not args.rate_list:
                    for step, connections in enumerate(args.connection_counts):
                        with measurement_lock(args.lock, args.lock_timeout):
                            queued_before = queue_length(args.redis_url)
                            load_before = load_average()
                            row = wrk_run(stack.port, connections, args.duration, script,
                                          {**wrk_env, "POS_LOAD_PREFIX": f"{prefix}c{step}"})
                        row.update(load_before=load_before, load_after=load_average(),
                                   queued_tasks=queue_length(args.redis_url) - queued_before)
                        told_ok += row["ok"]
                        results["closed_loop"].append(row)
                        drained = with_drain(row, args, args.duration)
                        print(f"closed loop {connections:>3} connections: {row['requests_per_s']:>7} req/s  p50 "
                              f"{row['p50_ms']} ms  p99 {row['p99_ms']} ms  max {row['max_ms']} ms  errors "
                              f"{row['errors']} {row['errors_by_kind'] or ''} (load {row['load_before']} → "
                              f"{row['load_after']}, +{row['queued_tasks']} tasks queued{drained})")
                    clean = [row for row in results["closed_loop"] if row["errors"] == 0] or results["closed_loop"]
                    peak = max(clean, key=lambda row: row["requests_per_s"])
                    results["peak"] = {"connections": peak["connections"], "requests_per_s": peak["requests_per_s"]}
                    rates = [peak["requests_per_s"] * fraction for fraction in args.fraction_list]
                else:
                    rates = args.rate_list
                headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {data.raw_key}"}
                for number, rate in enumerate(rates):
                    count = max(1, int(rate * args.rate_duration))
                    requests = [raw_post(PURCHASES_PATH, json.dumps(purchase_body(
                        data, f"{prefix}r{number}-{index}", args.lines)).encode(), headers, stack.port)
                        for index in range(count)]
                    with measurement_lock(args.lock, args.lock_timeout):
                        queued_before = queue_length(args.redis_url)
                        load_before = load_average()
                        row = open_loop(requests, rate, stack.port, 201)
                    row.update(load_before=load_before, load_after=load_average(),
                               queued_tasks=queue_length(args.redis_url) - queued_before)
                    if peak is not None:
                        row["fraction_of_peak"] = round(rate / peak["requests_per_s"], 2)
                    told_ok += row["ok"]
                    results["fixed_rate"].append(row)
                    drained = with_drain(row, args, count / rate)
                    print(f"fixed rate {rate:>7.1f}/s: achieved {row['achieved_rate']} req/s  p50 {row['p50_ms']} ms  "
                          f"p90 {row['p90_ms']} ms  p99 {row['p99_ms']} ms  max {row['max_ms']} ms  errors "
                          f"{row['errors']} {row['errors_by_kind'] or ''}  client send lag p99 "
                          f"{row['send_lag_p99_ms']} ms (load {row['load_before']} → {row['load_after']}, "
                          f"+{row['queued_tasks']} tasks queued{drained})")
                    if row["first_errors"]:
                        print(f"  first errors: {row['first_errors']}")
                sampler.sample()
                results["memory"] = sampler.report()
            results["queued_tasks_at_end"] = queue_length(args.redis_url)
            results["outbox_rows_at_end"] = outbox_length()
        finally:
            stack_stop(stack)
            purge_queue(args.redis_url)
            outbox_clear(outbox_first_id, prefix)
            revoke_key(data)
    results["check"] = check_run(first_id, prefix)
    results["check"]["clients_told_ok"] = told_ok
    written = max(results["check"]["purchases"], 1)
    results["cpu_ms_per_purchase"] = {
        role: round(sum(row["cpu_s"] for row in results.get("memory", []) if row["role"].startswith(role))
                    / written * 1000, 1) for role in ("web", "celery")}
    print_summary(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    check = results["check"]
    failed = check["accounts_mismatched"] or check["purchases"] < told_ok or check["earn_entries"] < told_ok
    return 1 if failed else 0


def print_summary(results: dict) -> None:
    print("\nmemory (MiB): role, pid, largest VmRSS sampled during the load, VmHWM (peak since start); "
          "CPU seconds used during the load")
    for row in results.get("memory", []):
        print(f"  {row['role']:<12} {row['pid']:>8}  rss {row['max_rss_mib']:>7}  hwm {row['vmhwm_mib']:>7}  "
              f"cpu {row['cpu_s']} s")
    cpu = results.get("cpu_ms_per_purchase")
    if cpu:
        print(f"CPU per acknowledged purchase: web workers {cpu['web']} ms, Celery worker {cpu['celery']} ms "
              f"(this process's own CPU and PostgreSQL's are not included)")
    check = results["check"]
    print(f"check: {check['clients_told_ok']} purchases acknowledged to the clients, {check['purchases']} in the "
          f"database with {check['earn_entries']} earn entries over {check['accounts']} accounts, "
          f"{check['accounts_mismatched']} accounts with balance != sum(entries) or != sum(open lots); "
          f"{results.get('queued_tasks_at_end', 0)} Celery tasks still queued and "
          f"{results.get('outbox_rows_at_end', 0)} outbox rows at the end (both cleared)")
    print(json.dumps(results))


# --- pgbench (raw SQL) -------------------------------------------------------------------------------


@dataclass
class Pgbench:
    """pgbench on the earn script (``bench/pos_pgbench.sql``) with the run's members and brand."""
    path: str
    env: dict
    variables: dict
    prefix: str

    def step(self, clients: int, duration: float, work: Path, lock: str, lock_timeout: float) -> dict:
        log_prefix = work / f"{self.prefix}-c{clients}-{time.monotonic_ns()}"
        command = [self.path, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
                   "-T", str(max(1, round(duration))), "-f", str(PGBENCH_SCRIPT), "-l",
                   "--log-prefix", str(log_prefix)]
        for name, value in self.variables.items():
            command += ["-D", f"{name}={value}"]
        with measurement_lock(lock, lock_timeout):
            load_before = load_average()
            result = subprocess.run(command, env=self.env, capture_output=True, text=True,  # noqa: S603
                                    timeout=duration + 60, check=False)
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
        if result.returncode != 0 or tps is None:
            raise RuntimeError(f"pgbench failed ({result.returncode}): {result.stdout[-1500:]} "
                               f"{result.stderr[-1500:]}")
        latencies = []
        for log_file in work.glob(f"{log_prefix.name}.*"):
            for line in log_file.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1e6)
        return {"clients": clients, "tps": round(float(tps.group(1)), 1), "transactions": len(latencies),
                "failed": int(failed.group(1)) if failed else 0, **latency_summary(latencies),
                "load_before": load_before, "load_after": load_average()}


def pgbench_row_text(row: dict) -> str:
    return (f"pgbench {row['clients']:>3} clients: {row['tps']:>8} tps  p50 {row['p50_ms']} ms  p99 "
            f"{row['p99_ms']} ms  max {row['max_ms']} ms  failed {row['failed']} (load "
            f"{row['load_before']} → {row['load_after']})")


@contextlib.contextmanager
def pgbench_ready(data: "BenchData", prefix: str):
    """The members table the script draws from (an unlogged copy of the sample), dropped after."""
    from django.db import connection

    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not Path(pgbench).exists():
        sys.exit("pgbench is missing (Debian: postgresql-client)")
    url = urlsplit(os.environ["DATABASE_URL"])
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_pos_members")
        cursor.execute("CREATE UNLOGGED TABLE bench_pos_members (n integer PRIMARY KEY, code varchar(16) NOT NULL)")
        cursor.execute("INSERT INTO bench_pos_members SELECT ordinality, code FROM unnest(%s::text[]) "
                       "WITH ORDINALITY AS sample(code)", [data.member_codes])
        cursor.execute("ANALYZE bench_pos_members")
        cursor.execute("SELECT id FROM members_branch WHERE brand_id = %s AND is_active ORDER BY id LIMIT 1",
                       [data.brand_id])
        branch = cursor.fetchone()
    env = {**os.environ, "PGPASSWORD": url.password or "", "PGHOST": url.hostname or "127.0.0.1",
           "PGPORT": str(url.port or 5432), "PGUSER": url.username or "", "PGDATABASE": url.path.lstrip("/")}
    variables = {"brand": data.brand_id, "currency": data.currency_id, "members": len(data.member_codes),
                 "branch": branch[0], "spend": int(float(data.rule_spend)),
                 "rule_points": data.rule_points, "run": prefix}
    try:
        yield Pgbench(path=pgbench, env=env, variables=variables, prefix=prefix)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_pos_members")


def run_pgbench(args: argparse.Namespace) -> int:
    django_setup(args.redis_url)
    data = prepare(args)
    revoke_key(data)  # the raw SQL needs no API key
    prefix = f"PG{secrets.token_hex(3)}"
    first_id = purchase_max_id()
    outbox_first_id = outbox_last_id()
    results = {"machine": machine_facts(), "brand": args.brand, "script": str(PGBENCH_SCRIPT.relative_to(BASE_DIR)),
               "rows": []}
    try:
        with tempfile.TemporaryDirectory(prefix="taem-pgbench-") as work, pgbench_ready(data, prefix) as pgbench:
            for clients in args.connection_counts:
                row = pgbench.step(clients, args.duration, Path(work), args.lock, args.lock_timeout)
                results["rows"].append(row)
                print(pgbench_row_text(row))
    finally:
        outbox_clear(outbox_first_id, prefix)  # the transactions' outbox rows: nobody relays them here
    results["peak_tps"] = max(row["tps"] for row in results["rows"])
    results["check"] = check_run(first_id, prefix)
    check = results["check"]
    print(f"check: {check['purchases']} purchases, {check['earn_entries']} earn entries over {check['accounts']} "
          f"accounts, {check['accounts_mismatched']} with balance != sum(entries) or != sum(open lots)")
    print(json.dumps(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    return 1 if check["accounts_mismatched"] else 0


# --- HTTP and pgbench in turns -------------------------------------------------------------------------


def run_paired(args: argparse.Namespace) -> int:
    """``--paired N``: N rounds of pgbench then the HTTP path alone (no Celery worker) at each client
    count, ``--duration`` each, one right after the other; the ratio of each pair, and their median.
    A shared machine's speed drifts by ±10 % over minutes: a pair sees the same machine."""
    shutil.which("wrk") or sys.exit("wrk is missing: ./scripts/ensure_wrk.sh installs it")
    args.celery_concurrency = 0
    django_setup(args.redis_url)
    data = prepare(args)
    prefix = f"PR{secrets.token_hex(3)}"
    purge_queue(args.redis_url)
    first_id = purchase_max_id()
    outbox_first_id = outbox_last_id()
    results: dict = {"machine": machine_facts(), "brand": args.brand, "members_in_brand": data.members_total,
                     "web_workers": args.web_workers, "duration_s": args.duration, "rounds": []}
    told_ok = 0
    with tempfile.TemporaryDirectory(prefix="taem-pos-paired-") as work:
        work_dir = Path(work)
        (work_dir / "members.txt").write_text("\n".join(data.member_codes) + "\n")
        script = work_dir / "purchases.lua"
        script.write_text(WRK_SCRIPT)
        wrk_env = {"POS_LOAD_MEMBERS": str(work_dir / "members.txt"), "POS_LOAD_KEY": data.raw_key,
                   "POS_LOAD_BRANCHES": ",".join(code for code in data.branch_codes if code),
                   "POS_LOAD_LINES": str(args.lines)}
        stack = stack_start(args, work_dir / "prod-local")
        print(f"stack ({stack.kind}) up: gunicorn {args.web_workers} sync workers on 127.0.0.1:{stack.port}, no "
              f"Celery worker (the events stay in the outbox); load average {load_average()}")
        try:
            with pgbench_ready(data, prefix) as pgbench:
                wrk_run(stack.port, 2, args.warmup, script, {**wrk_env, "POS_LOAD_PREFIX": f"{prefix}w"})
                for number in range(args.paired):
                    for clients in args.connection_counts:
                        raw = pgbench.step(clients, args.duration, work_dir, args.lock, args.lock_timeout)
                        with measurement_lock(args.lock, args.lock_timeout):
                            load_before = load_average()
                            http = wrk_run(stack.port, clients, args.duration, script,
                                           {**wrk_env, "POS_LOAD_PREFIX": f"{prefix}h{number}c{clients}"})
                        http.update(load_before=load_before, load_after=load_average())
                        told_ok += http["ok"]
                        ratio = round(100 * http["requests_per_s"] / raw["tps"], 1) if raw["tps"] else 0.0
                        results["rounds"].append({"round": number + 1, "clients": clients, "pgbench": raw,
                                                  "http": http, "ratio_percent": ratio})
                        print(f"round {number + 1} {clients:>3} clients: pgbench {raw['tps']:>7} tps, HTTP "
                              f"{http['requests_per_s']:>6} req/s (p99 {http['p99_ms']} ms, errors {http['errors']}) "
                              f"= {ratio} % (load {raw['load_before']} → {http['load_after']})")
        finally:
            stack_stop(stack)
            purge_queue(args.redis_url)
            outbox_clear(outbox_first_id, prefix)
            revoke_key(data)
    ratios = sorted(row["ratio_percent"] for row in results["rounds"])
    results["ratio_percent"] = {"median": round(ratios[len(ratios) // 2] if len(ratios) % 2 else
                                                (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2, 1),
                                "min": ratios[0], "max": ratios[-1]}
    results["check"] = check_run(first_id, prefix)
    results["check"]["clients_told_ok"] = told_ok
    check = results["check"]
    print(f"ratio HTTP / raw SQL over {len(ratios)} pairs: median {results['ratio_percent']['median']} %, "
          f"{ratios[0]}–{ratios[-1]} %")
    print(f"check: {told_ok} purchases acknowledged to the clients, {check['purchases']} in the database (pgbench's "
          f"too) with {check['earn_entries']} earn entries over {check['accounts']} accounts, "
          f"{check['accounts_mismatched']} accounts with balance != sum(entries) or != sum(open lots)")
    print(json.dumps(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    failed = check["accounts_mismatched"] or check["purchases"] < told_ok or check["earn_entries"] < told_ok
    return 1 if failed else 0


# --- profile -----------------------------------------------------------------------------------------


def run_profile(args: argparse.Namespace) -> int:
    """The view in this process under cProfile (Django's WSGI application called as gunicorn calls it;
    the broker is Redis, so the after-commit subscribers publish their tasks as under gunicorn)."""
    django_setup(args.redis_url)
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    data = prepare(args)
    purge_queue(args.redis_url)
    outbox_first_id = outbox_last_id()
    if args.without_subscribers:
        from loyalty import events

        events._subscribers.clear()
    application = get_wsgi_application()  # what gunicorn calls, without the test client's extra work
    prefix = f"PP{secrets.token_hex(3)}"

    def post(order_id: str) -> None:
        body = json.dumps(purchase_body(data, order_id, args.lines)).encode()
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": PURCHASES_PATH, "SCRIPT_NAME": "", "QUERY_STRING": "",
                   "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                   "HTTP_HOST": "localhost", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                   "HTTP_AUTHORIZATION": f"Api-Key {data.raw_key}", "wsgi.input": io.BytesIO(body),
                   "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}
        answer = {}
        content = b"".join(application(environ, lambda status, headers, exc_info=None: answer.update(status=status)))
        if not answer["status"].startswith("201"):
            raise RuntimeError(f"the API answered {answer['status']}: {content[:300]!r}")

    try:
        for index in range(20):
            post(f"{prefix}-w{index}")
        one: list[dict] = []

        def record(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                one.append({"sql": sql, "time": f"{time.perf_counter() - started:.4f}"})

        with connection.execute_wrapper(record):  # every statement, whatever resets connection.queries
            post(f"{prefix}-one")
        started, cpu_started = time.perf_counter(), time.process_time()
        for index in range(args.profile):
            post(f"{prefix}-t{index}")
        plain_ms = (time.perf_counter() - started) / args.profile * 1000
        cpu_ms = (time.process_time() - cpu_started) / args.profile * 1000
        profiler = cProfile.Profile(time.process_time) if args.cpu_timer else cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for index in range(args.profile):
            post(f"{prefix}-p{index}")
        profiler.disable()
        profiled_ms = (time.perf_counter() - started) / args.profile * 1000
    finally:
        purge_queue(args.redis_url)
        outbox_clear(outbox_first_id, prefix)
        revoke_key(data)
    subscribers = " (subscribers off)" if args.without_subscribers else ""
    print(f"one purchase ({args.lines} line(s)){subscribers}: {len(one)} SQL statements (and BEGIN/COMMIT); "
          f"{plain_ms:.2f} ms "
          f"per request in-process, {cpu_ms:.2f} ms of it on this process's CPU ({profiled_ms:.2f} ms under the "
          f"profiler), load average {load_average()}")
    for query in one:
        print(f"  {query['time']} s  {query['sql'][:150]}")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats(args.sort).print_stats(os.environ.get("TAEM_PROFILE_FILTER", ""), 45)
    print(text.getvalue())
    return 0


# --- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (timeout, kill) unwinds like Ctrl-C, so the stack started here is always stopped.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL=postgres://… is required (the seeded bench database, e.g. "
              "postgres://taem:taem@127.0.0.1:5432/taem_bench)", file=sys.stderr)
        return 2
    if args.profile:
        return run_profile(args)
    if args.pgbench:
        return run_pgbench(args)
    if args.paired:
        return run_paired(args)
    return run_http(args)


if __name__ == "__main__":
    sys.exit(main())
