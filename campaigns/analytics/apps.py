from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "campaigns.analytics"
    label = "analytics"
    verbose_name = _("Dashboard and reports")
    default_auto_field = "django.db.models.BigAutoField"
