"""Evaluating segments (issue 9). The condition compiler grows here.

Contract used by broadcasts and other campaigns:
``segment_members(segment, *, at=None) -> QuerySet[Member]``: the segment's members now
(brand-scoped, evaluated when the queryset runs).
"""

from django.db.models import QuerySet

from members.models import Member

from .models import Segment


def segment_members(segment: Segment, *, at=None) -> QuerySet[Member]:
    """Members of the segment's brand matching its definition (an empty definition: all members)."""
    return Member.objects.filter(brand_id=segment.brand_id).exclude(status=Member.Status.MERGED)
