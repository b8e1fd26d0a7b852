from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MissionsConfig(AppConfig):
    name = "campaigns.missions"
    label = "missions"
    verbose_name = _("Missions")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers
