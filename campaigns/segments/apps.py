from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "campaigns.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers
