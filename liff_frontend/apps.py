from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register
from django.utils.translation import gettext_lazy as _


class LiffFrontendConfig(AppConfig):
    name = "liff_frontend"
    verbose_name = _("Member portal")


@register()
def liff_mock_only_in_development(app_configs, **kwargs):
    """The LIFF mock must never run against real LINE: it would let anyone pick a LINE user."""
    if settings.LIFF_MOCK and not settings.LINE_API_BASE:
        return [Error("LIFF_MOCK is on but LINE_API_BASE is unset (real LINE).",
                      hint="Turn LIFF_MOCK off in production; it is for the fake LINE server only.",
                      id="taem.E001")]
    return []
