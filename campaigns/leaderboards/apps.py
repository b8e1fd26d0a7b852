from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeaderboardsConfig(AppConfig):
    name = "campaigns.leaderboards"
    label = "leaderboards"
    verbose_name = _("Top spender races")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the domain-event subscribers
