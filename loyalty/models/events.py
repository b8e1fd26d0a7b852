"""The outbox of domain events for the Celery worker (``loyalty.events``).

A purchase and a refund write the worker share of their events here, in their own transaction,
so the events commit or roll back with what raised them and the request never waits on the
broker. Any other batch is written here when publishing ``events_dispatch`` failed after its
transaction committed (the broker was down): what raised it stands, and its side effects (tier
upgrade, races, missions, coupons, statistics, notices) wait here. ``events_resend`` (beat,
every second) queues the rows, oldest first, several per task, and deletes them once queued.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ParkedEvents(models.Model):
    batch = models.JSONField(_("events"), help_text=_("[[event, payload], …] as events_dispatch takes them"))
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("parked at"), auto_now_add=True)

    class Meta:
        verbose_name = _("parked domain events")
        verbose_name_plural = _("parked domain events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.pk}: {', '.join(item[0] for item in self.batch)}"
