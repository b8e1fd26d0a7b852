"""API key authentication: ``Authorization: Api-Key <key>``.

Keys are looked up by the SHA-256 digest of what the client sends; the plaintext is never
stored or logged. A revoked key is refused with 401.
"""

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.rows import Rows
from members.models import ApiKey

KEYWORD = "Api-Key"

# The key with its brand and branch in one query compiled once (every machine request starts here).
# The brand's LINE credentials are encrypted at rest: not decrypted on every request (a view that
# needs them loads them when it reads them).
KEY_BY_DIGEST = Rows(ApiKey, where="t.key_digest = %s", related=("brand", "branch"),
                     defer=("brand__line_channel_secret", "brand__line_channel_access_token"))


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
        key = KEY_BY_DIGEST.first([ApiKey.digest(raw_key)])
        if key is None or not key.is_active or not key.brand.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):  # at most once a minute
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
            ).update(last_used_at=now)
        return (AnonymousUser(), key)

    def authenticate_header(self, request):
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "members.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`: a key created by staff in the admin, scoped to one brand."}
