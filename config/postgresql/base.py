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
"""

import select
import time

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

QUIET_TRUSTED_FOR = 10.0  # seconds since the previous check (about: since the previous request)


class DatabaseWrapper(base.DatabaseWrapper):
    last_checked: float | None = None

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
