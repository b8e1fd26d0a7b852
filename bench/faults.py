"""Faults under load, on throwaway servers of its own (never the shared PostgreSQL or Redis)::

    .venv/bin/python -m bench.faults                 # all three, about 3-4 minutes
    .venv/bin/python -m bench.faults --only postgres # or redis, line

It starts a private PostgreSQL cluster (``initdb`` into a temporary folder, run as the
``postgres`` user, on a free port), migrates a database there, and for each scenario:

1. **postgres**: gunicorn (2 workers) on loopback against that cluster, the ledger load of
   ``bench.ledger_load`` (clients retry a request whose outcome they did not learn, with the
   same idempotency key), and ``pg_ctl restart -m fast`` in the middle of it. Afterwards:
   ``verify_ledger`` clean; every purchase, redemption and refund a client was told about is
   in the database with the points it was told; every purchase row has exactly its EARN
   entries and its refunds' REVERSE entries (no half-written earn); no duplicate key.
2. **redis**: a private ``redis-server`` as the Celery broker, gunicorn and one Celery worker;
   signed LINE follow events are sent while Redis runs, while it is stopped, and after it is
   back. Checks: every webhook answered 200 (LINE must get its acknowledgement) and stored
   its events; after Redis is back every event is processed within ``--settle`` seconds (the
   events of the outage need a sweeper that re-queues events left ``received``: without one
   they are reported as a violation).
3. **line**: a broadcast to ``--recipients`` members while the fake LINE server answers 500
   (3 times), drops the connection after accepting (2 times) and rate-limits multicasts to
   one request per 10 s for ``--line-fault-seconds``. Checks: the broadcast ends *sent*, every
   recipient got the message exactly once (the fake counts deliveries per user), and the
   fake did answer 500 and 429 (and 409 for the retried, already accepted requests).

Prints the figures of each scenario and exits 1 on any violation. Every wait has a deadline;
the servers it started are stopped at the end (also on Ctrl-C).
"""

import argparse
import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.machine import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 60.0


def wait_for(check, timeout: float, what: str, pause: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(pause)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")


# --- a private PostgreSQL cluster ----------------------------------------------------------------


class Postgres:
    """``initdb`` + ``pg_ctl`` as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.data, self.sockets = folder / "data", folder / "sockets"

    def _as_postgres(self, *command: str, timeout: float = START_TIMEOUT) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, timeout=timeout, cwd="/",  # noqa: S603 - fixed argv
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> "Postgres":
        self.sockets.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "taem", "-E", "UTF8",
                          "--no-sync")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60", "-o", options,
                          "-l", str(self.folder / "postgres.log"), *extra)

    def restart(self) -> float:
        started = time.perf_counter()
        self._pg_ctl("restart", "-m", "fast")
        return time.perf_counter() - started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")

    def url(self, database: str) -> str:
        return f"postgres://taem@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


# --- processes of the stack ----------------------------------------------------------------------


def child_environment(extra: dict) -> dict:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LOG_LEVEL": "WARNING", **extra}


def start_gunicorn(folder: Path, environment: dict, workers: int = 2) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (folder / f"gunicorn-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=child_environment(environment), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {(folder / f'gunicorn-{port}.log').read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            connection.close()
            return status in (200, 503)  # 503: up, but a dependency (the broker) is down
        except OSError:
            return False

    wait_for(healthy, START_TIMEOUT, "gunicorn")
    return process, f"http://127.0.0.1:{port}"


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(answers, 20, "redis-server")
    return process


def start_worker(folder: Path, environment: dict) -> subprocess.Popen:
    log = (folder / "worker.log").open("wb")
    return subprocess.Popen(  # noqa: S603 - our own venv's celery
        [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "-c", "1", "-P", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING",
         "-n", f"faults-{os.getpid()}@%h"],
        cwd=ROOT, env=child_environment(environment), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- 1. PostgreSQL restarted under the ledger load ---------------------------------------------


def scenario_postgres(args, postgres: Postgres, folder: Path, environment: dict) -> list[str]:
    from django.db import connections

    from bench.ledger_load import Plan, prepare, run_load, summary, verify

    server, base_url = start_gunicorn(folder, environment)
    try:
        setup = prepare(members=8, reward_stock=100)
        plan = Plan(clients=args.clients, max_requests=100_000, seconds=args.load_seconds, races=1,
                    retries=40, retry_pause=0.5, seed=3)
        restart = {}

        def restart_midway() -> None:
            time.sleep(args.load_seconds / 2)
            restart["seconds"] = postgres.restart()

        restarter = threading.Thread(target=restart_midway, daemon=True)
        restarter.start()
        tally, elapsed = run_load(base_url, setup, plan)
        restarter.join(timeout=120)
    finally:
        stop_process(server)
    connections.close_all()  # this process's connection died with the restart
    failed = sum(count for (_operation, status), count in tally.statuses.items()
                 if status == "error" or (isinstance(status, int) and status >= 500))
    print(f"postgres: restarted in {restart.get('seconds', float('nan')):.1f} s after "
          f"{args.load_seconds / 2:.0f} s of load; {failed} answers were errors or 5xx, {tally.retries} retries")
    print(summary(tally, elapsed))
    violations = verify(setup, tally)
    if "seconds" not in restart:
        violations.append("PostgreSQL was not restarted")
    if not failed:
        violations.append("no client saw the restart: the fault did not happen during the load")
    return [f"postgres: {violation}" for violation in violations]


# --- 2. Redis stopped while LINE sends webhooks -----------------------------------------------------


def post_webhook(base_url: str, slug: str, secret: str, events: list[dict]) -> tuple[int | None, float]:
    from messaging import line_events

    body = line_events.body(events)
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection(base_url.split("//")[1].split(":")[0],
                                                int(base_url.rsplit(":", 1)[1]), timeout=30)
        connection.request("POST", f"/line/webhook/{slug}/", body=body,
                           headers={"Content-Type": "application/json",
                                    "X-Line-Signature": line_events.signature(secret, body)})
        status = connection.getresponse().status
        connection.close()
    except (OSError, http.client.HTTPException):
        status = None
    return status, time.perf_counter() - started


def scenario_redis(args, folder: Path, environment: dict, fake_line) -> list[str]:
    from members.models import Brand
    from messaging import line_events
    from messaging import tasks as messaging_tasks
    from messaging.models import LineWebhookEvent

    redis_port = free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    environment = {**environment, "CELERY_BROKER_URL": broker}
    secret, token = secrets.token_hex(16), f"faults-{secrets.token_hex(8)}"
    brand = Brand.objects.create(slug=f"faults-redis-{secrets.token_hex(3)}", name="Faults: Redis",
                                 line_channel_secret=secret, line_channel_access_token=token)
    fake_line.add_channel(token)
    violations, phases = [], {}
    events = LineWebhookEvent.objects.filter(brand=brand)
    redis = start_redis(redis_port, folder)
    server, base_url = start_gunicorn(folder, environment)
    worker = start_worker(folder, environment)
    try:
        for phase in ("before", "during", "after"):
            if phase == "during":
                stop_process(redis)
            if phase == "after":
                redis = start_redis(redis_port, folder)
            answers = []
            for _ in range(args.webhooks):
                user = "U" + secrets.token_hex(16)
                fake_line.add_user(user)
                answers.append(post_webhook(base_url, brand.slug, secret,
                                            [line_events.follow(user, fake_line.issue_reply_token(user))]))
            phases[phase] = answers
            if phase == "before":  # the worker is up and has drained the queue before Redis goes
                wait_for(lambda: not events.filter(status=LineWebhookEvent.Status.RECEIVED).exists(), 120,
                         "the Celery worker processing the first events", pause=0.5)
            if phase == "after":
                sweeper = getattr(messaging_tasks, "sweep_line_events", None)
                if sweeper is not None:  # what beat would run every minute
                    sweeper.apply(kwargs={"older_than_seconds": 0})
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline and events.filter(status=LineWebhookEvent.Status.RECEIVED).exists():
            time.sleep(0.5)
        left = events.filter(status=LineWebhookEvent.Status.RECEIVED).count()
    finally:
        stop_process(worker)
        stop_process(server)
        stop_process(redis)
    sent = 0
    for phase, answers in phases.items():
        statuses = [status for status, _seconds in answers]
        slowest = max(seconds for _status, seconds in answers)
        sent += len(answers)
        print(f"redis {phase:>6}: {len(answers)} webhooks, answers {sorted(set(statuses), key=str)}, "
              f"slowest {slowest * 1000:.0f} ms")
        if any(status != 200 for status in statuses):
            violations.append(f"{phase}: webhooks answered {statuses.count(200)}/{len(statuses)} with 200")
    stored = events.count()
    print(f"redis: {stored}/{sent} events stored, {left} still unprocessed {args.settle:.0f} s after Redis came back")
    if stored != sent:
        violations.append(f"{sent - stored} events were not stored")
    if left:
        violations.append(f"{left} events stored while Redis was down were never processed (no sweeper re-queues "
                          "events left 'received')")
    return [f"redis: {violation}" for violation in violations]


# --- 3. LINE answering 500 and 429 during a broadcast -----------------------------------------------


def scenario_line(args, fake_line) -> list[str]:
    from django.db import connection
    from django.db.models import Count

    from campaigns.broadcasts.models import Broadcast, BroadcastRecipient
    from campaigns.broadcasts.services import broadcast_send_run, broadcast_start
    from campaigns.segments.models import Segment
    from config.celery import app
    from consent.models import ConsentDocument, ConsentRecord, ConsentVersion
    from consent.services import consent_version_publish
    from members.models import Brand, Member

    app.conf.task_always_eager = True  # the batches are sent here, in this process
    token = f"faults-{secrets.token_hex(8)}"
    brand = Brand.objects.create(slug=f"faults-line-{secrets.token_hex(3)}", name="Faults: LINE",
                                 line_channel_access_token=token)
    fake_line.add_channel(token)
    Member.objects.bulk_create(
        [Member(brand=brand, line_user_id=f"Ufaults{brand.pk}x{number}", line_reachable=True,
                status=Member.Status.ACTIVE) for number in range(args.recipients)], batch_size=1000)
    document = ConsentDocument.objects.create(brand=brand, kind=ConsentDocument.Kind.MARKETING, title_th="ข่าวสาร",
                                              title_en="News", is_required=False)
    version = consent_version_publish(version=ConsentVersion.objects.create(
        document=document, version=1, content_th="ยินยอม", content_en="I agree"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {ConsentRecord._meta.db_table} (member_id, document_id, version_id, granted, "  # noqa: S608
                       "channel, reason, user_agent, created_at) SELECT id, %s, %s, true, 'import', '', '', now() "
                       "FROM members_member WHERE brand_id = %s", [document.pk, version.pk, brand.pk])
    segment = Segment.objects.create(brand=brand, name="everyone", definition={})
    broadcast = Broadcast.objects.create(brand=brand, segment=segment, name="faults", text_th="ทดสอบ",
                                         text_en="Test")
    before = fake_line.stats()["requests"]
    multicast = "/v2/bot/message/multicast"
    fake_line.add_fault(multicast, status=500, times=3)
    fake_line.add_fault(multicast, mode="accept_then_drop", times=2)
    fake_line.set_rate_limit(multicast, 0.1, 1.0)  # one request per 10 s: the retries meet 429s
    lift = threading.Timer(args.line_fault_seconds, lambda: fake_line.set_rate_limit(multicast, None))
    lift.start()
    started = time.perf_counter()
    try:
        broadcast_start(broadcast=broadcast)  # queues the sends: run here, eagerly
        deadline = time.monotonic() + args.line_fault_seconds + 180
        while time.monotonic() < deadline:
            broadcast.refresh_from_db()
            if broadcast.status == Broadcast.Status.SENT:
                break
            broadcast_send_run(broadcast_id=broadcast.pk, max_batches=10)
    finally:
        lift.cancel()
        fake_line.set_rate_limit(multicast, None)
        fake_line.clear_faults()
    elapsed = time.perf_counter() - started
    counts = {user: count for user, count in fake_line.delivery_counts().items()
              if user.startswith(f"Ufaults{brand.pk}")}
    requests = {key: value - before.get(key, 0) for key, value in fake_line.stats()["requests"].items()
                if key.startswith(multicast) and value - before.get(key, 0)}
    rows = dict(BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status").annotate(n=Count("id")))
    print(f"line: {args.recipients} recipients in {elapsed:.1f} s; multicast answers {requests}; rows {rows}; "
          f"{len(counts)} users got it, at most {max(counts.values(), default=0)} each")
    violations = []
    if broadcast.status != Broadcast.Status.SENT:
        violations.append(f"broadcast is {broadcast.status}, not sent")
    if len(counts) != args.recipients or any(count != 1 for count in counts.values()):
        duplicated = sum(1 for count in counts.values() if count > 1)
        violations.append(f"{len(counts)}/{args.recipients} users got it, {duplicated} more than once")
    for status in ("500", "429"):
        if not any(key.endswith(f" {status}") for key in requests):
            violations.append(f"the fake never answered {status}: the fault did not happen")
    return [f"line: {violation}" for violation in violations]


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["postgres", "redis", "line"], action="append",
                        help="run only this scenario (repeatable); default: all three")
    parser.add_argument("--clients", type=int, default=8, help="ledger load clients (8)")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="ledger load length (30; restart midway)")
    parser.add_argument("--webhooks", type=int, default=40, help="webhooks per Redis phase (40)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for events after Redis (30)")
    parser.add_argument("--recipients", type=int, default=2000, help="broadcast recipients (2000: 4 batches)")
    parser.add_argument("--line-fault-seconds", type=float, default=20.0, help="LINE rate-limited this long (20)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = args.only or ["postgres", "redis", "line"]
    folder = Path(tempfile.mkdtemp(prefix="taem-faults-"))
    folder.chmod(0o711)  # the postgres user must reach its cluster folder inside
    violations: list[str] = []
    print(f"load average before: {load_average()}; logs in {folder}")
    with ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        postgres = Postgres(folder / "pg").start()
        cleanup.callback(postgres.stop)
        database_url = postgres.create_database("taem_faults")
        environment = {
            "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "TAEM_VAR_DIR": str(folder / "var"),
            "DATABASE_CONN_MAX_AGE": "60", "CELERY_BROKER_URL": "",
        }
        os.environ.update(environment)
        import django

        django.setup()
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(f"private PostgreSQL on port {postgres.port}, migrated in {time.perf_counter() - started:.0f} s")
        from messaging.fake_line import FakeLineServer

        fake_line = FakeLineServer(accept_any_token=True).start()
        cleanup.callback(fake_line.stop)
        from django.conf import settings

        # Nothing here or in the children ever reaches LINE: every LINE host is the fake.
        for name in ("LINE_API_BASE", "LINE_LOGIN_API_BASE", "LINE_ACCESS_BASE"):
            setattr(settings, name, fake_line.base_url)
            environment[name] = fake_line.base_url
        for scenario in scenarios:
            started = time.perf_counter()
            try:
                if scenario == "postgres":
                    found = scenario_postgres(args, postgres, folder, environment)
                elif scenario == "redis":
                    found = scenario_redis(args, folder, environment, fake_line)
                else:
                    found = scenario_line(args, fake_line)
            except Exception as error:  # a scenario that could not run is a failure, and the others still run
                found = [f"{scenario}: could not run: {type(error).__name__}: {error}"]
            print(f"{scenario}: {'ok' if not found else f'{len(found)} violations'} in "
                  f"{time.perf_counter() - started:.0f} s (load average {load_average()})")
            violations += found
    for violation in violations:
        print(f"VIOLATION {violation}")
    print("all faults survived" if not violations else f"{len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
