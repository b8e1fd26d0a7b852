from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DrawsConfig(AppConfig):
    name = "campaigns.draws"
    label = "draws"
    verbose_name = _("Lucky draws")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers
