"""Django's PostgreSQL backend with a health check that costs no round trip when nothing is wrong.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection before the first query of each
request, and its PostgreSQL backend does it with a ``SELECT 1``: one round trip and one statement
for PostgreSQL per request (on the POS earn, about 5 % of the web worker's CPU). A connection that
PostgreSQL closed (a restart, a terminated backend, a crash) has something to read on its socket
(the server's goodbye, or the end of the stream) before anything is asked of it. So the check here
polls the socket without waiting: nothing to read on an open connection is healthy; anything to
read, or a connection psycopg already knows is closed, falls back to Django's ``SELECT 1``; so
does a connection idle for more than ``QUIET_TRUSTED_FOR`` seconds (a peer that vanished without
closing, e.g. a moved virtual IP, shows nothing on the socket: after a quiet spell it is asked).

Timestamps: Django reads ``timestamptz`` columns with its own loader, a Python subclass of
psycopg's pure-Python one (so that it can pin the timezone), which parses every value in Python:
on the POS earn a few percent of the web worker's CPU. With ``USE_TZ``, no ``TIME_ZONE`` on the
database and the session in UTC (what Django sets up), psycopg's compiled loader returns the very
same values (aware, ``datetime.timezone.utc``), so connections use it (``UtcTimestamptzLoader``).

Writes sent with COMMIT: ``execute_with_commit(sql, params)`` queues a transaction's last write
(the POS earn's events outbox row) to reach PostgreSQL in the same round trip as its COMMIT, as
one simple-protocol query ``<write>; COMMIT`` with the values bound on the client (psycopg's
quoting). Only in the outermost ``atomic`` block's own transaction; a rollback or a closed
connection drops what is queued; a queued write that fails makes the commit fail, so the whole
transaction rolls back (Django's ``atomic`` rolls back when the commit raises).
"""

import datetime
import select
import time

from django.conf import settings
from django.db import DatabaseError
from django.db.backends.postgresql import base
from psycopg import ClientCursor, pq
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus

try:  # psycopg's compiled implementation (psycopg[binary]; psycopg[c] builds the same module)
    from psycopg_binary._psycopg import TimestamptzLoader as _CompiledTimestamptzLoader
except ImportError:  # pragma: no cover - the project installs psycopg[binary]
    try:
        from psycopg_c._psycopg import TimestamptzLoader as _CompiledTimestamptzLoader
    except ImportError:
        _CompiledTimestamptzLoader = None


QUIET_TRUSTED_FOR = 10.0  # seconds since the previous check (about: since the previous request)


class UtcTimestamptzLoader(Loader):
    """psycopg's compiled ``timestamptz`` text loader (a final class: wrapped, not subclassed), with
    the ``timezone`` attribute Django's cursors compare with the connection's."""

    timezone = datetime.UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._compiled = _CompiledTimestamptzLoader(oid, context)
        self.load = self._compiled.load  # the compiled method itself: no Python call in between

    def load(self, data):  # what the instance attribute above replaces (``Loader`` requires it)
        return self._compiled.load(data)


class DatabaseWrapper(base.DatabaseWrapper):
    last_checked: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_commit: list[str] = []  # statements with their values bound, for the next COMMIT

    def execute_with_commit(self, sql: str, params: list) -> bool:
        """Queue ``sql`` to run just before this transaction's COMMIT, in the same round trip.

        Returns False, queuing nothing, unless the caller is in the outermost ``atomic`` block (and
        no inner one) of a transaction that block commits: then the caller runs the statement
        itself, now. ``sql`` must not depend on being run before later statements of the
        transaction (it runs last). The values are bound here, so a value that cannot be sent
        fails the caller's block, not the commit. Not undone by a manual ``savepoint_rollback``
        (Django's ``atomic`` blocks never queue: they are not the outermost)."""
        if (len(self.atomic_blocks) != 1 or not self.commit_on_exit or self.get_autocommit()
                or self.needs_rollback or self.connection is None):
            return False
        with self.wrap_database_errors:
            self.with_commit.append(ClientCursor(self.connection).mogrify(sql, params))
        return True

    def _commit(self):
        pending, self.with_commit = self.with_commit, []
        if not pending or self.connection is None:
            return super()._commit()
        with self.wrap_database_errors:
            # Django's cursor wrapper (logged in tests and DEBUG, errors as django.db errors), no
            # health check: the transaction is open on this connection.
            cursor = self._prepare_cursor(self.create_cursor())
        with cursor:
            cursor.execute(";\n".join([*pending, "COMMIT"]))
        if self.connection.info.transaction_status != TransactionStatus.IDLE:
            # A queued statement swallowed the COMMIT (a trailing comment, say): fail the commit,
            # so that atomic rolls the transaction back instead of leaving it open.
            raise DatabaseError("the statements sent with COMMIT left the transaction open")

    def _rollback(self):
        self.with_commit = []
        return super()._rollback()

    def _close(self):
        self.with_commit = []
        return super()._close()

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if (_CompiledTimestamptzLoader is not None and pq.__impl__ in ("binary", "c") and settings.USE_TZ
                and self.timezone is datetime.UTC and self.timezone_name == "UTC"):
            connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
        return connection

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        now, previous = time.monotonic(), self.last_checked
        self.last_checked = now
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()  # not between transactions: ask for real
        if previous is None or now - previous > QUIET_TRUSTED_FOR:
            return super().is_usable()  # the first check, or quiet for a while: ask for real
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            if not poller.poll(0):
                return True  # nothing arrived unasked: the server has not closed it
        except (OSError, ValueError):
            pass
        return super().is_usable()
