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
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.process_cache import ProcessCache
from config.rows import Rows
from members.models import ApiKey, Branch, Brand

KEYWORD = "Api-Key"

# The key with its brand and branch in one query compiled once (every machine request starts here).
# The brand's LINE credentials are encrypted at rest: not decrypted on every request (a view that
# needs them loads them when it reads them).
KEY_BY_DIGEST = Rows(ApiKey, where="t.key_digest = %s", related=("brand", "branch"),
                     defer=("brand__line_channel_secret", "brand__line_channel_access_token"))

_cache = ProcessCache("api_key", ttl_setting="API_KEY_CACHE_TTL", default_ttl=1, max_entries=10_000)


def key_by_digest(digest: str) -> ApiKey | None:
    """The key with this digest (its brand and branch loaded), from this process's cache when it
    was read less than ``API_KEY_CACHE_TTL`` seconds ago; None when there is none."""
    kept = _cache.get(digest)
    if kept is not None:
        return _own_copy(kept)
    token = _cache.token()
    key = KEY_BY_DIGEST.first([digest])
    if key is None or not _cache.put(digest, key, token):
        return key
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


clear = _cache.clear
keys_changed = _cache.changed  # a key, brand or branch changed; the admin's revoke action calls it (update() sends no signal)


def connect_signals() -> None:
    _cache.clear_on_changes((ApiKey, Brand, Branch))


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
                kept.last_used_at = now  # the next requests of this process do not write it again
        return (AnonymousUser(), key)

    def authenticate_header(self, request):
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "members.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`: a key created by staff in the admin, scoped to one brand."}
