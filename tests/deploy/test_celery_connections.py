"""Celery workers keep their database connection between tasks, as web processes do.

Celery's Django fixup closes every connection around every task unless ``CELERY_DB_REUSE_MAX``
is set; a new PostgreSQL connection per task cost the worker more CPU than most tasks (BENCHMARKS.md).
``config.celery`` applies Django's own rule instead: a connection is closed at a task's start or
end only when it is broken or older than ``CONN_MAX_AGE``, and never around an eager task, which
runs inside its caller's transaction.
"""

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery import _database_connections_as_django_keeps_them as at_task_boundary
from config.celery import app
from loyalty.tasks import events_dispatch as task


def test_celery_does_not_close_the_connection_after_every_task():
    assert DjangoWorkerFixup(app).db_reuse_max >= 100_000


def test_the_hook_runs_at_every_task_start_and_end():
    for signal in (task_prerun, task_postrun):
        assert at_task_boundary in [receiver() for _key, receiver in signal.receivers], signal.name


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a worker task starts
def test_a_worker_task_keeps_a_healthy_connection_and_replaces_an_old_one():
    connection.ensure_connection()
    first = connection.connection
    at_task_boundary(sender=task)
    assert connection.connection is first  # kept: healthy and younger than CONN_MAX_AGE

    connection.close_at = time.monotonic() - 1  # older than CONN_MAX_AGE
    at_task_boundary(sender=task)
    assert connection.connection is None
    connection.ensure_connection()
    assert connection.connection is not first


@pytest.mark.django_db(transaction=True)
def test_an_eager_task_never_touches_its_callers_connection():
    connection.ensure_connection()
    first = connection.connection
    connection.close_at = time.monotonic() - 1
    task.push_request(is_eager=True)
    try:
        at_task_boundary(sender=task)
    finally:
        task.pop_request()
    assert connection.connection is first
