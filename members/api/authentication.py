"""API key authentication: ``Authorization: Api-Key <key>``.

Keys are looked up by the SHA-256 digest of what the client sends; the plaintext is never
stored or logged. A revoked key is refused with 401.

A till sends its key with every bill, so each process keeps a key it found (with its brand and
branch) for ``API_KEY_CACHE_TTL`` seconds (settings, default 1) instead of reading it again per
request. A save or delete of a key, brand or branch in this process, and the admin's revoke
action, drop every kept key at once and again when the change commits; other processes see a
revocation or a deactivated brand within the TTL. A key read inside a transaction is used but
not kept (the transaction may roll back). Each request gets its own copies of the instances.
"""

import copy
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.rows import Rows
from members.models import ApiKey, Branch, Brand

KEYWORD = "Api-Key"

# The key with its brand and branch in one query compiled once (every machine request starts here).
# The brand's LINE credentials are encrypted at rest: not decrypted on every request (a view that
# needs them loads them when it reads them).
KEY_BY_DIGEST = Rows(ApiKey, where="t.key_digest = %s", related=("brand", "branch"),
                     defer=("brand__line_channel_secret", "brand__line_channel_access_token"))

CACHE_MAX_KEYS = 10_000  # past this many kept keys the cache starts again empty
_cache: dict[str, tuple[float, ApiKey]] = {}
_generation = [0]  # bumped by every clear(): a row read before a clear is not kept after it
_lock = threading.Lock()


def key_by_digest(digest: str) -> ApiKey | None:
    """The key with this digest (its brand and branch loaded), from this process's cache when it
    was read less than ``API_KEY_CACHE_TTL`` seconds ago; None when there is none."""
    now = time.monotonic()
    found = _cache.get(digest)
    if found is not None and found[0] > now:
        return _own_copy(found[1])
    generation = _generation[0]
    key = KEY_BY_DIGEST.first([digest])
    ttl = float(getattr(settings, "API_KEY_CACHE_TTL", 1))
    connection = transaction.get_connection()
    if key is None or ttl <= 0 or connection.in_atomic_block or not connection.get_autocommit():
        return key
    with _lock:
        if generation != _generation[0]:
            return key  # cleared while this row was read: it may predate the change, so not kept
        if len(_cache) >= CACHE_MAX_KEYS:
            _cache.clear()
        _cache[digest] = (now + ttl, key)
    return _own_copy(key)


def _own_copy(key: ApiKey) -> ApiKey:
    """A copy of a kept key, brand and branch: what one request sets on them stays in it."""
    clone = _shallow(key)
    clone._state.fields_cache = {name: None if value is None else _shallow(value)
                                 for name, value in key._state.fields_cache.items()}
    return clone


def _shallow(instance):
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__ = instance.__dict__.copy()
    clone._state = copy.copy(instance._state)
    clone._state.fields_cache = dict(instance._state.fields_cache)
    return clone


def clear(**_kwargs) -> None:
    with _lock:
        _cache.clear()
        _generation[0] += 1


def keys_changed(**_kwargs) -> None:
    """A key, brand or branch changed: drop the kept keys now, and again once the change commits
    (a request in another thread of this process may read the old row in between)."""
    clear()
    transaction.on_commit(clear)


def connect_signals() -> None:
    for model in (ApiKey, Brand, Branch):
        post_save.connect(keys_changed, sender=model, dispatch_uid=f"api_key_cache_save_{model.__name__}")
        post_delete.connect(keys_changed, sender=model, dispatch_uid=f"api_key_cache_delete_{model.__name__}")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, raw_key = header.partition(" ")
        if keyword != KEYWORD:
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed(_("Missing API key."))
        digest = ApiKey.digest(raw_key)
        key = key_by_digest(digest)
        if key is None or not key.is_active or not key.brand.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):  # at most once a minute
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
            ).update(last_used_at=now)
            key.last_used_at = now
            kept = _cache.get(digest)
            if kept is not None:
                kept[1].last_used_at = now  # the next requests of this process do not write it again
        return (AnonymousUser(), key)

    def authenticate_header(self, request):
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "members.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`: a key created by staff in the admin, scoped to one brand."}
