from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from . import expiry_tasks  # noqa: F401 - registers the expiry Celery tasks (tasks.py holds the tier ones)
        from .services import (
            earn_config,
            tiers,  # noqa: F401 - subscribes the upgrade-on-purchase handler
        )

        earn_config.connect_signals()
