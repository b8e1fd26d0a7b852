"""Reads for consent. Every selector takes the brand or the member and scopes by it.

A member's current decision on a document is their latest ``ConsentRecord`` for it
(highest id: records are written under the member's row lock). A decision covers the
document, not only the version it was given on, with one exception: a *required*
document counts as accepted only for its current version, so publishing a new required
version sends every member back through consent (``consents_missing``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
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


def marketing_granted(*, brand: Brand):
    """An expression over ``Member``: True when the member's current decision on the brand's
    marketing consent is a grant, else False (never asked included).

    One index lookup per member on ``consent_record_latest`` (the brand's marketing documents are
    an uncorrelated subquery PostgreSQL runs once, so the lookup joins nothing); annotate it once
    and test it, rather than ``NOT IN`` a million-row subquery.
    """
    documents = ConsentDocument.objects.filter(brand=brand, kind=ConsentDocument.Kind.MARKETING).values("pk")
    latest_decision = (ConsentRecord.objects.filter(member=OuterRef("pk"), document_id__in=documents)
                       .order_by("-id").values("granted")[:1])
    return Coalesce(Subquery(latest_decision, output_field=BooleanField()), Value(False))


def members_with_marketing_consent(*, brand: Brand) -> QuerySet[Member]:
    """Members of ``brand`` whose current decision on the brand's marketing consent is a grant.

    Set-based (one correlated index lookup per member): use it to narrow any marketing
    audience. A brand without a marketing consent document has no such member.
    """
    return Member.objects.filter(brand=brand).alias(marketing_granted=marketing_granted(brand=brand)).filter(
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


# --- the consent centre and the staff member page ----------------------------------------------


@dataclass(frozen=True)
class DocumentStatus:
    """One document as a member sees it: its current version and the member's decision."""

    document: ConsentDocument
    current: ConsentVersion | None
    latest: ConsentRecord | None  # the member's current decision (any version), None if never asked
    history: list[ConsentRecord]

    @property
    def granted(self) -> bool:
        return self.latest is not None and self.latest.granted

    @property
    def decided_on_current(self) -> bool:
        """The member's decision was given on the current version (else a newer text awaits them)."""
        return self.latest is not None and self.current is not None and self.latest.version_id == self.current.pk

    @property
    def can_change(self) -> bool:
        """Optional documents with a current version can be granted and withdrawn at any time."""
        return self.current is not None and not self.document.is_required


def member_consent_overview(*, member: Member, history_limit: int = 50) -> list[DocumentStatus]:
    """Every document of the member's brand with its current version, the member's decision and history.

    Three queries whatever the number of documents (documents, current versions, records).
    """
    documents = list(ConsentDocument.objects.filter(brand_id=member.brand_id).order_by("-is_required", "kind", "pk"))
    current = {version.document_id: version for version in consent_versions_current(brand=member.brand)}
    records: dict[int, list[ConsentRecord]] = {}
    for record in (ConsentRecord.objects.filter(member_id=member.pk).select_related("version", "staff_user")
                   .order_by("-id")):
        records.setdefault(record.document_id, []).append(record)
    return [DocumentStatus(document=document, current=current.get(document.pk),
                           latest=(records.get(document.pk) or [None])[0],
                           history=records.get(document.pk, [])[:history_limit])
            for document in documents]


def consents_to_ask(*, member: Member) -> list[ConsentVersion]:
    """Current versions of *optional* documents the member never decided on: asked, not forced."""
    decided = set(ConsentRecord.objects.filter(member_id=member.pk).values_list("document_id", flat=True).distinct())
    return [version for version in consent_versions_current(brand=member.brand)
            if not version.document.is_required and version.document_id not in decided]


# --- reports -----------------------------------------------------------------------------------


def consent_history(*, brand: Brand, start: datetime | None = None, end: datetime | None = None,
                    kind: str = "", version_id: int | None = None, granted: bool | None = None
                    ) -> QuerySet[ConsentRecord]:
    """The brand's consent log, filtered: ``start <= created_at < end``, document kind, version, decision.

    Ordered by id (the order the decisions were taken).
    """
    records = ConsentRecord.objects.filter(document__brand=brand)
    if start is not None:
        records = records.filter(created_at__gte=start)
    if end is not None:
        records = records.filter(created_at__lt=end)
    if kind:
        records = records.filter(document__kind=kind)
    if version_id:
        records = records.filter(version_id=version_id)
    if granted is not None:
        records = records.filter(granted=granted)
    return records.order_by("id")


def consent_status_summary(*, brand: Brand) -> list[dict]:
    """Per document version: how many members' *current* decision is on it, granted and withdrawn.

    One set-based query: a record is current when no later record of the same member on the
    same document exists (the ``consent_record_latest`` index answers that), then counted by
    version and decision. Versions nobody decided on are listed with zeros.
    """
    newer = ConsentRecord.objects.filter(member_id=OuterRef("member_id"), document_id=OuterRef("document_id"),
                                         id__gt=OuterRef("id"))
    counts = (ConsentRecord.objects.filter(document__brand=brand).filter(~Exists(newer))
              .values("version_id").annotate(granted_count=Count("id", filter=Q(granted=True)),
                                             withdrawn_count=Count("id", filter=Q(granted=False))).order_by())
    by_version = {row["version_id"]: row for row in counts}
    rows = []
    for version in (ConsentVersion.objects.filter(document__brand=brand, status=ConsentVersion.Status.PUBLISHED)
                    .select_related("document").order_by("document_id", "-version")):
        row = by_version.get(version.pk, {})
        rows.append({"version": version, "document": version.document, "granted": row.get("granted_count", 0),
                     "withdrawn": row.get("withdrawn_count", 0)})
    return rows
