from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BroadcastsConfig(AppConfig):
    name = "campaigns.broadcasts"
    label = "broadcasts"
    verbose_name = _("Broadcasts")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers
