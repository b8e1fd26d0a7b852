"""The database health check (config.postgresql): no round trip while the connection is quiet,
and a connection PostgreSQL closed is found unusable, closed and replaced before the request's
first query (CONN_HEALTH_CHECKS)."""

import time

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql


@pytest.fixture
def round_trips(monkeypatch):
    """Counts Django's own SELECT 1 checks (what the quiet path avoids)."""
    calls = []
    original = django_postgresql.DatabaseWrapper.is_usable

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", counting)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_is_healthy_without_a_round_trip(round_trips):
    connection.ensure_connection()
    connection.last_checked = None
    assert connection.is_usable()  # the first check asks for real
    assert connection.is_usable()  # the next request's, a moment later: no round trip
    assert round_trips == [1]


@pytest.mark.django_db(transaction=True)
def test_a_connection_idle_for_a_while_is_asked_for_real(round_trips, monkeypatch):
    from config.postgresql import base as taem_backend

    connection.ensure_connection()
    connection.last_checked = None
    assert connection.is_usable()
    later = time.monotonic() + taem_backend.QUIET_TRUSTED_FOR + 1
    monkeypatch.setattr(taem_backend.time, "monotonic", lambda: later)
    assert connection.is_usable()
    assert round_trips == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_the_next_query(round_trips):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        old_pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None), params.pop("context", None), params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()
    assert round_trips, "a socket with something to read is checked with SELECT 1"
    # What Django does at the start of a request with CONN_HEALTH_CHECKS, then the request's query.
    connection.health_check_enabled, connection.health_check_done = True, False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid
