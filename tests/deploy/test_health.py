"""``/healthz``: 200 with the real database and Redis, 503 when the broker is down or silent (and
within the hard timeout), and answered for probes whatever their Host and scheme.

The Redis test needs ``TAEM_TEST_REDIS_URL`` (``make test`` exports it); it uses database 9 of
that server. It is skipped when the variable is unset outside CI and fails in CI.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from config import health


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TAEM_TEST_REDIS_URL", "")
    if not url:
        message = "TAEM_TEST_REDIS_URL is not set: run `make test`, or export TAEM_TEST_REDIS_URL=$(./scripts/ensure_redis.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return urlunsplit(urlsplit(url)._replace(path="/9"))


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung broker)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    listener.close()


def test_healthy_with_the_real_database_and_redis(client, db, settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_unhealthy_when_nothing_listens_on_the_broker_port(client, db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_port()}/0"
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "ok", "broker": "error: ConnectionError"}}
    assert time.monotonic() - started < 3.0


def test_a_silent_broker_makes_it_unhealthy_within_the_hard_timeout(client, db, settings, silent_server):
    settings.CELERY_BROKER_URL = silent_server
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error: ")
    assert health.BROKER_TIMEOUT <= elapsed < health.BROKER_DEADLINE + 0.5


def test_a_non_redis_broker_is_checked_with_a_timeout_too(client, db, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{unused_port()}//"
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert time.monotonic() - started < health.BROKER_DEADLINE + 0.5


def test_probes_are_answered_for_any_host_over_plain_http(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["loyalty.example.com"]
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert client.head("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    # Everything else still goes through host validation and the HTTPS redirect.
    assert client.get("/admin/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    redirect = client.get("/admin/login/", HTTP_HOST="loyalty.example.com")
    assert redirect.status_code == 301 and redirect["Location"].startswith("https://loyalty.example.com/")
    assert client.post("/healthz", HTTP_HOST="loyalty.example.com", secure=True).status_code == 405
