"""Values a process keeps for a few seconds instead of reading them again per request.

The earn configuration of a brand (``loyalty.services.earn_config``) and API keys
(``members.api.authentication``) are read on every POS request and change a few times a week.
A ``ProcessCache`` keeps each value for ``ttl_setting`` seconds (a Django setting). A save or
delete of any model it depends on, in this process, drops every value at once and again when the
change commits (``clear_on_changes``, signals); other processes see the change within the TTL.

A value is kept only when it was read outside any transaction (one that rolls back must not
leave what it saw) and when nothing cleared the cache while it was being read (the read may
predate the change): take ``token()`` before reading, hand it to ``put``.
"""

import threading
import time
from collections.abc import Hashable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save


class ProcessCache:
    def __init__(self, name: str, *, ttl_setting: str, default_ttl: float, max_entries: int | None = None):
        self.name, self.ttl_setting, self.default_ttl, self.max_entries = name, ttl_setting, default_ttl, max_entries
        self.entries: dict[Hashable, tuple[float, Any]] = {}
        self.generation = 0  # bumped by every clear()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The value kept for ``key`` if it has not expired, else None."""
        found = self.entries.get(key)
        return found[1] if found is not None and found[0] > time.monotonic() else None

    def token(self) -> int:
        """Taken before reading a value to ``put``."""
        return self.generation

    def put(self, key: Hashable, value: Any, token: int) -> bool:
        """Keep ``value`` unless the TTL is 0, a transaction is open, or the cache was cleared since
        ``token`` was taken. Returns whether it was kept."""
        ttl = float(getattr(settings, self.ttl_setting, self.default_ttl))
        connection = transaction.get_connection()
        if ttl <= 0 or connection.in_atomic_block or not connection.get_autocommit():
            return False
        with self.lock:
            if token != self.generation:
                return False
            if self.max_entries is not None and len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = (time.monotonic() + ttl, value)
        return True

    def clear(self, **_kwargs) -> None:
        with self.lock:
            self.entries.clear()
            self.generation += 1

    def changed(self, **_kwargs) -> None:
        """Something the values depend on changed: drop them now, and again once the change commits
        (a request in another thread of this process may read the old rows in between)."""
        self.clear()
        transaction.on_commit(self.clear)

    def clear_on_changes(self, models: Iterable, m2m_throughs: Iterable = ()) -> None:
        for model in models:
            post_save.connect(self.changed, sender=model, dispatch_uid=f"{self.name}_clear_save_{model.__name__}")
            post_delete.connect(self.changed, sender=model, dispatch_uid=f"{self.name}_clear_delete_{model.__name__}")
        for through in m2m_throughs:
            m2m_changed.connect(self.changed, sender=through, dispatch_uid=f"{self.name}_clear_m2m_{through.__name__}")
