from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("LINE messaging")

    def ready(self) -> None:
        from . import allauth_hosts, subscribers  # noqa: F401 - registers event subscribers

        allauth_hosts.point_allauth_at_configured_hosts()
