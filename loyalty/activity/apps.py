from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivityConfig(AppConfig):
    name = "loyalty.activity"
    label = "activity"
    verbose_name = _("Activity points")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the event subscribers
