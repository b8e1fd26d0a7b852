"""Reads for consent. Every selector takes the brand or the member and scopes by it.

A member's current decision on a document is their latest ``ConsentRecord`` for it
(highest id: records are written under the member's row lock). A decision covers the
document, not only the version it was given on, with one exception: a *required*
document counts as accepted only for its current version, so publishing a new required
version sends every member back through consent (``consents_missing``).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from members.models import Brand, Member

from .models import ConsentDocument, ConsentRecord, ConsentVersion


def consent_versions_current(*, brand: Brand, at: datetime | None = None) -> QuerySet[ConsentVersion]:
    """Per document of ``brand``, the highest published version in effect at ``at`` (default now).

    Documents without such a version are left out. Ordered by document.
    """
    at = at or timezone.now()
    current = (ConsentVersion.objects
               .filter(document=OuterRef("document"), status=ConsentVersion.Status.PUBLISHED, effective_at__lte=at)
               .order_by("-version").values("pk")[:1])
    return (ConsentVersion.objects.filter(document__brand=brand, pk=Subquery(current))
            .select_related("document").order_by("document_id"))


def consent_records_latest(*, member: Member) -> QuerySet[ConsentRecord]:
    """The member's latest record per document (their current decisions)."""
    latest = (ConsentRecord.objects.filter(member_id=member.pk, document=OuterRef("document"))
              .order_by("-id").values("pk")[:1])
    return ConsentRecord.objects.filter(member_id=member.pk, pk=Subquery(latest)).order_by("document_id")


def consent_status(*, member: Member) -> dict[int, bool]:
    """Document id → whether the member's current decision grants it, for every document of their brand.

    A document the member never decided on is ``False``.
    """
    status = dict.fromkeys(ConsentDocument.objects.filter(brand_id=member.brand_id).values_list("pk", flat=True),
                           False)
    status.update(consent_records_latest(member=member).values_list("document_id", "granted"))
    return status


def consents_missing(*, member: Member) -> list[ConsentVersion]:
    """Current versions of required documents the member has not granted (on that version).

    The portal asks for these before anything else; an empty list means the member may go on.
    """
    required = list(consent_versions_current(brand=member.brand).filter(document__is_required=True))
    if not required:
        return []
    granted_versions = set(
        consent_records_latest(member=member).filter(granted=True).values_list("version_id", flat=True)
    )
    return [version for version in required if version.pk not in granted_versions]


def members_with_marketing_consent(*, brand: Brand) -> QuerySet[Member]:
    """Members of ``brand`` whose current decision on the brand's marketing consent is a grant.

    Set-based (one correlated index lookup per member): use it to narrow any marketing
    audience. A brand without a marketing consent document has no such member.
    """
    latest_decision = (ConsentRecord.objects
                       .filter(member=OuterRef("pk"), document__brand=brand,
                               document__kind=ConsentDocument.Kind.MARKETING)
                       .order_by("-id").values("granted")[:1])
    return Member.objects.filter(brand=brand).alias(marketing_granted=Subquery(latest_decision)).filter(
        marketing_granted=True
    )


def marketing_consented_member_ids(*, brand: Brand, member_ids: Iterable[int]) -> set[int]:
    """The subset of ``member_ids`` (members of ``brand``) who may receive marketing right now.

    One query, read at send time, so a withdrawal committed before it takes effect.
    """
    member_ids = list(member_ids)
    if not member_ids:
        return set()
    allowed = members_with_marketing_consent(brand=brand).filter(pk__in=member_ids).order_by()
    return set(allowed.values_list("pk", flat=True))
