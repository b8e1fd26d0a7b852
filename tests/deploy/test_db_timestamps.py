"""Timestamps read with psycopg's compiled loader (config.postgresql): the same values, to the
microsecond and with the same ``datetime.timezone.utc``, as Django's own loader gives."""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from config import rows
from config.postgresql.base import UtcTimestamptzLoader

VALUES = ["2026-11-26 07:00:00+07", "2026-11-26 23:59:59.999999+00", "1999-12-31 17:00:00.5-07:00",
          "2038-01-19 03:14:08+00", "1970-01-01 00:00:00+00", "2026-03-08 02:30:00-05", "0001-01-02 00:00:00+00"]


@pytest.mark.django_db
def test_connections_read_timestamptz_with_the_compiled_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(
        connection.connection.adapters.types["timestamptz"].oid, Format.TEXT)
    assert loader is UtcTimestamptzLoader
    assert not issubclass(loader, BaseTzLoader)  # not Django's pure-Python one
    instance = loader(connection.connection.adapters.types["timestamptz"].oid, connection.connection)
    assert type(instance.load.__self__).__module__.endswith("_psycopg")  # compiled (psycopg_binary / psycopg_c)


@pytest.mark.django_db
def test_the_values_equal_djangos_loader():
    with connection.cursor() as cursor:
        cursor.execute("SHOW TimeZone")
        assert cursor.fetchone()[0] == "UTC"
        cursor.execute("SELECT v::timestamptz::text FROM unnest(%s::text[]) AS v", [VALUES])
        texts = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT v::timestamptz FROM unnest(%s::text[]) AS v", [VALUES])
        fast = [row[0] for row in cursor.fetchall()]
    with rows.cursor() as cursor:  # the hot path's server-binding cursors too
        cursor.execute("SELECT v::timestamptz FROM unnest(%s::text[]) AS v", [VALUES])
        fast_rows = [row[0] for row in cursor.fetchall()]

    class DjangoLoader(BaseTzLoader):
        timezone = datetime.UTC

    django = [DjangoLoader(0).load(text.encode()) for text in texts]
    assert fast == django == fast_rows
    assert all(value.tzinfo is datetime.UTC for value in fast + fast_rows)
    assert fast[1].microsecond == 999999 and fast[2].microsecond == 500000
    assert fast[0] == datetime.datetime(2026, 11, 26, 0, 0, tzinfo=datetime.UTC)
