"""django-allauth's LINE provider has its LINE endpoints as class attributes; point them at
``LINE_ACCESS_BASE`` / ``LINE_LOGIN_API_BASE`` so development and tests use the fake LINE
server (production keeps LINE's own hosts, the defaults)."""

from django.conf import settings


def point_allauth_at_configured_hosts() -> None:
    from allauth.socialaccount.providers.line.views import LineOAuth2Adapter

    access = settings.LINE_ACCESS_BASE.rstrip("/")
    api = settings.LINE_LOGIN_API_BASE.rstrip("/")
    LineOAuth2Adapter.authorize_url = f"{access}/oauth2/v2.1/authorize"
    LineOAuth2Adapter.access_token_url = f"{api}/oauth2/v2.1/token"
    LineOAuth2Adapter.profile_url = f"{api}/v2/profile"
    LineOAuth2Adapter.id_token_url = f"{api}/oauth2/v2.1/verify"
