"""Domain events whose worker task could not be queued (``loyalty.events``).

Written only when publishing ``events_dispatch`` failed after the events' transaction committed
(the broker was down): the purchase stands, and its side effects (tier upgrade, races,
missions, coupons, statistics, notices) wait here until ``events_resend`` (beat, every minute)
queues them again. Deleted once queued.
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
        return f"{self.pk}: {', '.join(event for event, _payload in self.batch)}"
