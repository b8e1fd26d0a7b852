from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "loyalty.orders"
    label = "orders"
    verbose_name = _("Shop and marketplace orders")

    def ready(self) -> None:
        from . import subscribers  # noqa: F401 - registers the event subscribers
