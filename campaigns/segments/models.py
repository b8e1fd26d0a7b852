"""Segments: saved, readable audience definitions (issue 9).

``Segment.definition`` is a JSON tree: ``{"op": "and"|"or", "conditions": [...]}`` where
each condition is ``{"type": <kind>, ...}`` or a nested group. The compiler in
``campaigns.segments.services`` turns it into one SQL query over members and their
maintained statistics; the segment is evaluated at use (count, sample, send), never stored
as a member list.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="segments")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("conditions"), default=dict, blank=True)
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="segment_name_unique_per_brand")]

    def __str__(self) -> str:
        return self.name
