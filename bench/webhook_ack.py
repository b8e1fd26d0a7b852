"""How fast the LINE webhook answers (the target: p99 under 50 ms).

The real stack on this machine: PostgreSQL (``DATABASE_URL``, required), the Django app
under gunicorn (sync workers, as in the Dockerfile), Celery publishing to Redis. No Celery
worker runs: the view only verifies, stores and enqueues, which is exactly what LINE waits
for. Client threads send signed single-event (and 5-event) bodies over ``http.client``
connections and time each request until its whole response is read::

    ./scripts/ensure_postgres.sh && ./scripts/ensure_redis.sh
    DATABASE_URL=postgres://taem:taem@127.0.0.1:5432/taem_bench .venv/bin/python -m bench.webhook_ack

``--profile`` runs the view in-process under cProfile (Django test client) instead. ``--rate 500``
sends at a fixed 500 events/s instead of from closed-loop clients (open loop: each latency is
measured from the request's intended send time, so queueing behind a slow answer counts).

It writes only to the database (the ``messaging`` app's migrations and their dependencies, a
brand ``bench-webhook`` and its events; the brand and events are deleted at the end; the
database is created when missing) and to
Redis database 14 (the queued tasks, purged before and after). Gunicorn runs with a
temporary ``TAEM_VAR_DIR`` that is removed. It stops by itself: every wait has a timeout
and the measurement has a deadline (``--max-seconds``).
"""

import argparse
import cProfile
import http.client
import io
import json
import math
import os
import pstats
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.machine import free_port, stop_process

BASE_DIR = Path(__file__).resolve().parent.parent
BRAND_SLUG = "bench-webhook"
WEBHOOK_PATH = f"/line/webhook/{BRAND_SLUG}/"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"  # not 15: that one is the test suite's
REQUEST_TIMEOUT = 10.0
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_ack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per mode (2000)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests before each mode (100)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client connections (2)")
    parser.add_argument("--events-per-body", default="1,5", help="modes to run, comma-separated (1,5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2, as in the Dockerfile)")
    parser.add_argument("--threads", type=int, default=1,
                        help="gunicorn threads per worker; >1 uses the gthread worker, which keeps connections alive")
    parser.add_argument("--conn-max-age", type=int, default=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
                        help="DATABASE_CONN_MAX_AGE for the app (default: the environment's, else 60 as in settings)")
    parser.add_argument("--broker-url", default=os.environ.get("TAEM_BENCH_REDIS_URL", DEFAULT_BROKER))
    parser.add_argument("--max-seconds", type=float, default=300.0, help="deadline for each mode (300)")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="instead: cProfile N in-process requests through the Django test client")
    parser.add_argument("--rate", default="", metavar="EVENTS_PER_S",
                        help="open loop instead of --clients: send at this fixed rate of events/s (requests/s = "
                             "rate / events per body; a comma-separated list runs each) and time each request "
                             "from its intended send time")
    parser.add_argument("--rate-seconds", type=float, default=20.0, help="seconds of each --rate run (20)")
    args = parser.parse_args(argv)
    args.modes = [int(part) for part in args.events_per_body.split(",") if part.strip()]
    args.rates = [float(part) for part in args.rate.split(",") if part.strip()]
    return args


# --- environment and database --------------------------------------------------------------------


def configure_environment(args: argparse.Namespace, var_dir: str) -> None:
    """Set before Django is imported; gunicorn inherits the same environment."""
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "TAEM_VAR_DIR": var_dir,
        "CELERY_BROKER_URL": args.broker_url,
        "DATABASE_CONN_MAX_AGE": str(args.conn_max_age),
        "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    # Without a key in the environment settings would create var/secret_key: keep it in memory.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` when it does not exist (the role needs CREATEDB); True if created."""
    import psycopg
    from psycopg import sql

    try:
        psycopg.connect(url, connect_timeout=5).close()
        return False
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"created database {name}")
    return True


def prepare_brand(channel_secret: str):
    from members.models import Brand
    from messaging.models import LineWebhookEvent

    LineWebhookEvent.objects.filter(brand__slug=BRAND_SLUG).delete()
    brand, _created = Brand.objects.update_or_create(
        slug=BRAND_SLUG,
        defaults={"name": "Benchmark: webhook", "is_active": True, "line_channel_secret": channel_secret},
    )
    return brand


def remove_brand() -> None:
    from members.models import Brand
    from messaging.models import LineWebhookEvent

    LineWebhookEvent.objects.filter(brand__slug=BRAND_SLUG).delete()
    Brand.objects.filter(slug=BRAND_SLUG).delete()


def stored_events() -> int:
    from messaging.models import LineWebhookEvent

    return LineWebhookEvent.objects.filter(brand__slug=BRAND_SLUG).count()


def queued_tasks() -> int:
    from config.celery import app

    with app.connection_for_write() as broker:
        try:
            return broker.default_channel.queue_declare(queue=app.conf.task_default_queue,
                                                        passive=True).message_count
        except broker.channel_errors:
            return 0


def purge_queue() -> None:
    from config.celery import app

    app.control.purge()


# --- request bodies ------------------------------------------------------------------------------


def make_bodies(count: int, events_per_body: int, channel_secret: str) -> list[tuple[bytes, str]]:
    """Signed bodies of complete text-message events, each event from its own user, built
    before the clock starts."""
    from messaging import line_events

    bodies = []
    for _ in range(count):
        events = [line_events.text_message("U" + secrets.token_hex(16), secrets.token_hex(16), "แต้ม")
                  for _ in range(events_per_body)]
        raw = line_events.body(events)
        bodies.append((raw, line_events.signature(channel_secret, raw)))
    return bodies


# --- the server ----------------------------------------------------------------------------------


def start_gunicorn(args: argparse.Namespace, port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--log-level", "warning"]
    if args.threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(args.threads)]
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, cwd=BASE_DIR, env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                return server
            raise RuntimeError(f"/healthz answered {response.status}: {body[:300]!r}")
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not answer within {SERVER_START_TIMEOUT:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    stop_process(server, timeout=SERVER_STOP_TIMEOUT)


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(port: int, jobs: list[tuple[bytes, str]], outcome: Outcome, deadline: float) -> None:
    """One connection, reused while the server keeps it open (http.client reconnects by itself
    after a ``Connection: close``, as gunicorn's sync workers send)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    latencies, errors = [], []
    try:
        for raw, signature in jobs:
            if time.monotonic() > deadline:
                errors.append("deadline reached")
                break
            headers = {"Content-Type": "application/json", "X-Line-Signature": signature}
            started = time.perf_counter()
            try:
                connection.request("POST", WEBHOOK_PATH, body=raw, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                continue
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
    finally:
        connection.close()
        with outcome.lock:
            outcome.latencies.extend(latencies)
            outcome.errors.extend(errors)


def run_load(port: int, bodies: list[tuple[bytes, str]], clients: int, max_seconds: float) -> tuple[Outcome, float]:
    outcome = Outcome()
    deadline = time.monotonic() + max_seconds
    threads = [threading.Thread(target=client_loop, args=(port, bodies[index::clients], outcome, deadline),
                                daemon=True) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max_seconds + REQUEST_TIMEOUT + 5)
    return outcome, time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def summary(outcome: Outcome, elapsed: float, events_per_body: int) -> dict:
    values = sorted(outcome.latencies)
    count = len(values)
    return {
        "events_per_body": events_per_body,
        "requests": count,
        "errors": len(outcome.errors),
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p95_ms": round(percentile(values, 0.95) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2),
        "mean_ms": round(sum(values) / count * 1000, 2),
        "requests_per_s": round(count / elapsed, 1),
        "events_per_s": round(count * events_per_body / elapsed, 1),
    }


# --- profile -------------------------------------------------------------------------------------


def profile_view(count: int, events_per_body: int, channel_secret: str) -> None:
    """cProfile the view (and the middleware) in this process through Django's test client.

    The test client keeps the database connection open between requests; gunicorn closes it
    at the end of each request unless ``CONN_MAX_AGE`` > 0, so that is done here too.
    """
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()

    def post(raw: bytes, signature: str) -> None:
        response = client.post(WEBHOOK_PATH, data=raw, content_type="application/json",
                               headers={"X-Line-Signature": signature})
        if response.status_code != 200:
            raise RuntimeError(f"the webhook answered {response.status_code}")
        close_old_connections()  # what Django's request_finished does under a real server

    for raw, signature in make_bodies(20, events_per_body, channel_secret):  # imports, connections
        post(raw, signature)
    bodies = make_bodies(count, events_per_body, channel_secret)
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        profiler.enable()
        for raw, signature in bodies:
            post(raw, signature)
        profiler.disable()
        elapsed = time.perf_counter() - started
    per_request = len(queries) // count
    print(f"{events_per_body} event(s)/body, {count} in-process requests, "
          f"CONN_MAX_AGE={connection.settings_dict['CONN_MAX_AGE']}: {elapsed / count * 1000:.2f} ms each "
          f"under the profiler, {per_request} SQL statements each:")
    for query in queries.captured_queries[-per_request:]:
        print(f"  {query['time']} s  {query['sql'][:120]}")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
    print(text.getvalue())


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))  # unwind: gunicorn is stopped
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL=postgres://… is required (e.g. postgres://taem:taem@127.0.0.1:5432/taem_bench; "
              "./scripts/ensure_postgres.sh starts the server)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="taem-bench-") as var_dir:
        configure_environment(args, var_dir)
        created = ensure_database(database_url)
        import django

        django.setup()
        from django.core.management import call_command

        # A database that already existed gets only what this benchmark writes (the webhook events and
        # what they depend on): a shared benchmark database is not migrated behind its owners' backs.
        call_command("migrate", *([] if created else ["messaging"]), verbosity=0, interactive=False)
        channel_secret = secrets.token_hex(16)
        prepare_brand(channel_secret)
        purge_queue()
        try:
            if args.profile:
                for events_per_body in args.modes:
                    profile_view(args.profile, events_per_body, channel_secret)
                return 0
            return run_modes(args, channel_secret, Path(var_dir))
        finally:
            purge_queue()
            remove_brand()


def run_modes(args: argparse.Namespace, channel_secret: str, var_dir: Path) -> int:
    port = free_port()
    log_path = var_dir / "gunicorn.log"
    mode = f"gthread x{args.threads}" if args.threads > 1 else "sync"
    load = (f"open loop at {', '.join(f'{rate:g}' for rate in args.rates)} events/s" if args.rates
            else f"{args.clients} clients")
    print(f"gunicorn {args.workers} {mode} workers on 127.0.0.1:{port}, {load}, "
          f"CONN_MAX_AGE={args.conn_max_age}, broker {args.broker_url} (no worker)")
    server = start_gunicorn(args, port, log_path)
    results, failed = [], False
    try:
        for events_per_body in args.modes:
            run_load(port, make_bodies(args.warmup, events_per_body, channel_secret), args.clients, args.max_seconds)
            if args.rates:
                for rate in args.rates:
                    result, mode_failed = run_fixed_rate(args, port, events_per_body, channel_secret, rate)
                    results.append(result)
                    failed = failed or mode_failed
                continue
            events_before, queued_before = stored_events(), queued_tasks()
            outcome, elapsed = run_load(port, make_bodies(args.requests, events_per_body, channel_secret),
                                        args.clients, args.max_seconds)
            if not outcome.latencies:
                print(f"{events_per_body} event(s)/body: no successful request: {outcome.errors[:5]}")
                failed = True
                continue
            result = summary(outcome, elapsed, events_per_body)
            sent_events = result["requests"] * events_per_body
            result["events_stored"] = stored_events() - events_before
            result["tasks_queued"] = queued_tasks() - queued_before
            results.append(result)
            print(f"{events_per_body} event(s)/body: {result['requests']} requests in {elapsed:.1f} s, "
                  f"{result['requests_per_s']} req/s ({result['events_per_s']} events/s); latency ms "
                  f"p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}  "
                  f"max {result['max_ms']}  mean {result['mean_ms']}; errors {result['errors']}; "
                  f"stored {result['events_stored']}/{sent_events} events, queued {result['tasks_queued']} tasks")
            if outcome.errors:
                print(f"  first errors: {outcome.errors[:5]}")
            failed = failed or bool(outcome.errors) or result["events_stored"] != sent_events
    finally:
        stop_server(server)
    if failed:
        print(f"gunicorn log:\n{log_path.read_text(errors='replace')[-3000:]}")
    print(json.dumps(results))
    return 1 if failed else 0


def run_fixed_rate(args: argparse.Namespace, port: int, events_per_body: int, channel_secret: str,
                   rate: float) -> tuple[dict, bool]:
    """One mode at a fixed arrival rate (open loop, ``bench.pos_load.open_loop``): LINE sends
    when events happen, not when the previous answer came back, so a slow answer must not slow
    the arrivals (closed-loop clients would hide the queueing: coordinated omission)."""
    from bench.pos_load import open_loop, raw_post

    request_rate = rate / events_per_body
    count = max(1, int(request_rate * args.rate_seconds))
    requests = [raw_post(WEBHOOK_PATH, raw, {"Content-Type": "application/json", "X-Line-Signature": signature},
                         port) for raw, signature in make_bodies(count, events_per_body, channel_secret)]
    events_before, queued_before = stored_events(), queued_tasks()
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    outcome = open_loop(requests, request_rate, port, 200, deadline_s=min(args.max_seconds, args.rate_seconds + 30))
    result = {"events_per_body": events_per_body, "target_events_per_s": rate,
              "target_requests_per_s": round(request_rate, 1), "requests": outcome["ok"],
              "errors": outcome["errors"], "p50_ms": outcome["p50_ms"], "p95_ms": outcome["p95_ms"],
              "p99_ms": outcome["p99_ms"], "max_ms": outcome["max_ms"], "requests_per_s": outcome["achieved_rate"],
              "events_per_s": round(outcome["achieved_rate"] * events_per_body, 1),
              "client_send_lag_p99_ms": outcome["send_lag_p99_ms"], "load_before": load_before,
              "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    result["events_stored"] = stored_events() - events_before
    result["tasks_queued"] = queued_tasks() - queued_before
    print(f"{events_per_body} event(s)/body at {request_rate:.0f} req/s ({rate:g} events/s), open loop: "
          f"{result['requests']} answered, {result['requests_per_s']} req/s; latency from the intended send time, ms: "
          f"p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}  max {result['max_ms']}; errors "
          f"{result['errors']} {outcome['errors_by_kind'] or ''}; client send lag p99 {result['client_send_lag_p99_ms']} "
          f"ms; stored {result['events_stored']}/{len(requests) * events_per_body} events, queued "
          f"{result['tasks_queued']} tasks (load {result['load_before']} → {result['load_after']})")
    if outcome["first_errors"]:
        print(f"  first errors: {outcome['first_errors']}")
    failed = bool(outcome["errors"]) or result["events_stored"] != len(requests) * events_per_body
    return result, failed


if __name__ == "__main__":
    sys.exit(main())
