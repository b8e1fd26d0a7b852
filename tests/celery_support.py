"""A real Celery worker on Redis for tests (a plugin of ``tests/conftest.py``).

``redis_url`` comes from ``TAEM_TEST_REDIS_URL`` (``make test`` exports
``TAEM_TEST_REDIS_URL=$(./scripts/ensure_redis.sh)``). When it is unset a test that needs it
is skipped if you run ``pytest`` by hand, and FAILS when the environment variable ``CI`` is
set, so CI can never lose it silently. ``celery_on_redis`` makes this process publish to
that Redis (queue purged first) instead of running tasks eagerly; ``running_worker`` starts
a ``celery worker`` subprocess on the test database. Do not point two concurrent test runs
at the same Redis database.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools

from config.celery import app

WORKER_READY_TIMEOUT = 30.0  # seconds; it takes about 2 s on the project's machines
PROCESSING_TIMEOUT = 20.0
WORKER_STOP_TIMEOUT = 10.0
# Hard cap on the worker's life, enforced by coreutils' timeout even if pytest itself is killed:
# a stray worker would hold a connection to the test database and break the next run.
WORKER_MAX_LIFETIME = 120



@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TAEM_TEST_REDIS_URL", "")
    if not url:
        message = ("TAEM_TEST_REDIS_URL is not set: run `make test`, or "
                   "`export TAEM_TEST_REDIS_URL=$(./scripts/ensure_redis.sh)`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def forget_broker_connections() -> None:
    """Celery builds its broker connection pool (``app.pool``) and producer pool
    (``app.amqp.producer_pool``) from ``broker_url`` on first use and keeps them; kombu keeps
    them in global registries too. Drop them all so the next publisher uses the current
    configuration, and nothing from this test leaks into later (eager) tests."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    pools.reset()


@contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """This process's Celery app publishing to ``broker_url`` instead of running tasks eagerly."""
    changed = {"task_always_eager": False, "broker_url": broker_url, "result_backend": None,
               # as settings choose it for a redis:// broker (config.broker)
               "broker_transport": "config.broker:Transport" if broker_url.startswith("redis://") else None}
    saved = {key: app.conf[key] for key in changed}
    app.conf.update(changed)
    forget_broker_connections()
    try:
        yield
    finally:
        app.conf.update(saved)
        forget_broker_connections()


@pytest.fixture
def celery_on_redis(redis_url):
    """This process's Celery app publishing to Redis instead of running tasks eagerly,
    restored afterwards. The queue is purged first."""
    with publishing_to(redis_url):
        app.control.purge()
        yield app


def queued_messages() -> int:
    with app.connection_for_write() as broker:
        channel = broker.default_channel
        try:
            return channel.queue_declare(queue=app.conf.task_default_queue, passive=True).message_count
        except broker.channel_errors:
            return 0  # the queue's key does not exist: empty


def worker_database_url() -> str:
    """The database this test runs in (pytest-django's ``test_…``), for the worker."""
    db = connection.settings_dict
    credentials = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process, self.log_path = process, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tasks_received(self, name: str) -> int:
        return sum(1 for line in self.log().splitlines() if f"{name}[" in line and "] received" in line)


def wait_for(condition: Callable[[], object], *, what: str, timeout: float, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if worker is not None and worker.process.poll() is not None:
            pytest.fail(f"the Celery worker exited ({worker.process.returncode}) while waiting for {what}:\n"
                        f"{worker.log()[-4000:]}")
        if time.monotonic() > deadline:
            log = f"\nworker log:\n{worker.log()[-4000:]}" if worker is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{log}")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    """Warm shutdown (SIGTERM, which timeout(1) forwards); SIGKILL to the whole group if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=WORKER_STOP_TIMEOUT)


@contextmanager
def running_worker(*, broker_url: str, line_base_url: str, tmp_path: Path) -> Iterator[Worker]:
    """A ``celery worker`` subprocess on this test's database, ready to consume; stopped on exit."""
    var_dir = tmp_path / "worker-var"
    var_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "LINE_API_BASE": line_base_url,
        "LINE_LOGIN_API_BASE": line_base_url,
        "LINE_ACCESS_BASE": line_base_url,
        # Channel secrets and access tokens are stored encrypted with a key derived from these.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "TAEM_VAR_DIR": str(var_dir),
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
               "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
               "-n", f"taem-test-{os.getpid()}@%h"]
    timeout_program = shutil.which("timeout")
    if timeout_program:
        command = [timeout_program, "--kill-after=5", str(WORKER_MAX_LIFETIME), *command]
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    worker = Worker(process, log_path)
    try:
        wait_for(lambda: " ready." in worker.log(), what="the worker to be ready",
                  timeout=WORKER_READY_TIMEOUT, worker=worker)
        yield worker
    finally:
        stop(process)
