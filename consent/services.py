"""Writes for consent: publishing versions and recording members' decisions.

Every function is keyword-only and owns its transaction. Recording locks the member row
(``select_for_update``) so one member's records are serialised: the highest record id is
the member's latest decision, whatever the concurrency.
"""

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from members.models import Member

from .errors import (
    ConsentDocumentNotFound,
    ConsentDocumentRequired,
    ConsentNoCurrentVersion,
    ConsentReasonRequired,
    ConsentsMissing,
    ConsentStaffUserRequired,
    ConsentVersionAlreadyPublished,
    ConsentVersionNotFound,
    ConsentVersionNotNewer,
    ConsentVersionNotPublished,
    DataAccessReasonRequired,
)
from .models import ConsentAnonymisation, ConsentDocument, ConsentRecord, ConsentVersion, PersonalDataAccess
from .selectors import consent_versions_current, consents_missing

Channel = ConsentRecord.Channel
USER_AGENT_MAX = ConsentRecord._meta.get_field("user_agent").max_length


def consent_version_publish(*, version: ConsentVersion, effective_at: datetime | None = None) -> ConsentVersion:
    """Publish a draft: from now on its text is frozen.

    ``effective_at`` (default: now; never before now) is when it becomes the document's
    current version; a new version of a required document then makes every member
    re-consent. Locks the document row, so two publications of one document are
    serialised. Raises ``ConsentVersionAlreadyPublished`` and ``ConsentVersionNotNewer``
    (the number must exceed every published version's).
    """
    with transaction.atomic():
        ConsentDocument.objects.select_for_update().get(pk=version.document_id)
        locked = ConsentVersion.objects.select_for_update().get(pk=version.pk)
        if locked.is_published:
            raise ConsentVersionAlreadyPublished()
        if ConsentVersion.objects.filter(document_id=locked.document_id, status=ConsentVersion.Status.PUBLISHED,
                                         version__gte=locked.version).exists():
            raise ConsentVersionNotNewer(fields={"version": [str(ConsentVersionNotNewer.message)]})
        now = timezone.now()
        locked.status = ConsentVersion.Status.PUBLISHED
        locked.published_at = now
        locked.effective_at = max(effective_at or locked.effective_at or now, now)
        locked.save(update_fields=["status", "published_at", "effective_at", "updated_at"])
    return locked


def _check_channel(*, channel: str, staff_user, reason: str) -> None:
    if channel == Channel.STAFF:
        if not reason.strip():
            raise ConsentReasonRequired(fields={"reason": [str(ConsentReasonRequired.message)]})
        if staff_user is None:
            raise ConsentStaffUserRequired(fields={"staff_user": [str(ConsentStaffUserRequired.message)]})


def _check_version(*, member: Member, version: ConsentVersion) -> None:
    if version.document.brand_id != member.brand_id:
        raise ConsentVersionNotFound()
    if not version.is_published:
        raise ConsentVersionNotPublished()


def _records(*, member: Member, versions: list[tuple[ConsentVersion, bool]], channel: str, ip, user_agent: str,
             staff_user, reason: str) -> list[ConsentRecord]:
    Member.objects.select_for_update().only("pk").get(pk=member.pk)
    records = []
    for version, granted in versions:
        record = ConsentRecord(
            member=member, document_id=version.document_id, version=version, granted=bool(granted),
            channel=channel, staff_user=staff_user,
            reason=reason.strip(), ip=ip or None, user_agent=(user_agent or "")[:USER_AGENT_MAX],
        )
        record.save()
        records.append(record)
    return records


def consent_record(*, member: Member, version: ConsentVersion, granted: bool, channel: str, ip: str | None = None,
                   user_agent: str = "", staff_user=None, reason: str = "") -> ConsentRecord:
    """Append the member's decision (grant or withdrawal) on one published version.

    The version must be published and belong to the member's brand
    (``ConsentVersionNotPublished``, ``ConsentVersionNotFound``). Staff recording on the
    member's behalf (channel ``staff``) must give a reason and their user
    (``ConsentReasonRequired``, ``ConsentStaffUserRequired``). Locks the member row; the new
    record is the member's current decision on the document as soon as it commits.
    """
    _check_channel(channel=channel, staff_user=staff_user, reason=reason)
    version = ConsentVersion.objects.select_related("document").get(pk=version.pk)
    _check_version(member=member, version=version)
    with transaction.atomic():
        return _records(member=member, versions=[(version, granted)], channel=channel, ip=ip,
                        user_agent=user_agent, staff_user=staff_user, reason=reason)[0]


def consents_record_many(*, member: Member, decisions: Mapping[int, bool], channel: str, ip: str | None = None,
                         user_agent: str = "", staff_user=None, reason: str = "",
                         require_complete: bool = False) -> list[ConsentRecord]:
    """Append several decisions at once, e.g. the consent checkboxes of the registration form.

    ``decisions`` maps version ids to granted (``True``) or withdrawn (``False``). All or
    nothing: every version is checked as in ``consent_record`` before anything is written.
    With ``require_complete``, raises ``ConsentsMissing`` (and writes nothing) unless the
    member has then granted every current required version; ``error.context["versions"]``
    lists the missing version ids. Locks the member row once.
    """
    _check_channel(channel=channel, staff_user=staff_user, reason=reason)
    versions = {version.pk: version for version in ConsentVersion.objects.select_related("document")
                .filter(pk__in=list(decisions))}
    missing_ids = set(decisions) - set(versions)
    if missing_ids:
        raise ConsentVersionNotFound(versions=sorted(missing_ids))
    ordered = [(versions[version_id], decisions[version_id]) for version_id in sorted(decisions)]
    for version, _granted in ordered:
        _check_version(member=member, version=version)
    with transaction.atomic():
        records = _records(member=member, versions=ordered, channel=channel, ip=ip, user_agent=user_agent,
                           staff_user=staff_user, reason=reason)
        if require_complete:
            missing = consents_missing(member=member)
            if missing:
                raise ConsentsMissing(versions=[version.pk for version in missing])
    return records


def consent_change(*, member: Member, document_id: int, granted: bool, channel: str, ip: str | None = None,
                   user_agent: str = "", staff_user=None, reason: str = "") -> ConsentRecord:
    """Grant or withdraw a document of the member's brand, on its current version.

    The consent centre and the staff "withdraw on the member's behalf" form call this. A
    member cannot withdraw a *required* document here (``ConsentDocumentRequired``: the
    terms are a condition of the membership; closing it is erasure); staff recording a
    request on the member's behalf (channel ``staff``, with a reason) can. Raises
    ``ConsentDocumentNotFound`` (not the member's brand) and ``ConsentNoCurrentVersion``.
    The withdrawal is the member's current decision as soon as this returns: marketing
    senders read it at send time (``marketing_consented_member_ids``), nothing caches it.
    """
    document = ConsentDocument.objects.filter(pk=document_id, brand_id=member.brand_id).first()
    if document is None:
        raise ConsentDocumentNotFound()
    if document.is_required and not granted and channel != Channel.STAFF:
        raise ConsentDocumentRequired()
    version = consent_versions_current(brand=member.brand).filter(document=document).first()
    if version is None:
        raise ConsentNoCurrentVersion()
    return consent_record(member=member, version=version, granted=granted, channel=channel, ip=ip,
                          user_agent=user_agent, staff_user=staff_user, reason=reason)


def consent_records_anonymise(*, member: Member, reason: str, staff_user=None) -> ConsentAnonymisation:
    """The one permitted update of the append-only consent log: null the member's IP and user agent.

    Used by erasure. One set-based UPDATE of the ``ip`` and ``user_agent`` columns of the
    member's records (decisions, versions, channels, reasons and times are kept: they are
    the legal record that consent was asked and given), plus a ``ConsentAnonymisation`` row
    saying when, by whom and why. Raises ``ConsentReasonRequired`` without a reason.
    """
    if not reason.strip():
        raise ConsentReasonRequired(fields={"reason": [str(ConsentReasonRequired.message)]})
    with transaction.atomic():
        Member.objects.select_for_update().only("pk").get(pk=member.pk)
        count = ConsentRecord.objects.filter(member_id=member.pk).update(ip=None, user_agent="")
        return ConsentAnonymisation.objects.create(member=member, records=count, staff_user=staff_user,
                                                   reason=reason.strip())


def personal_data_access_record(*, member: Member, action: str, channel: str, staff_user=None, reason: str = "",
                                ip: str | None = None) -> PersonalDataAccess:
    """Audit one export or erasure of the member's personal data (append-only).

    Staff must give a reason (``DataAccessReasonRequired``); the member acting on their own
    data needs none. Call it in the same transaction as the access it records (or before
    the data leaves), so no export goes unaudited.
    """
    if channel == PersonalDataAccess.Channel.STAFF and (staff_user is None or not reason.strip()):
        raise DataAccessReasonRequired(fields={"reason": [str(DataAccessReasonRequired.message)]})
    return PersonalDataAccess.objects.create(brand_id=member.brand_id, member=member, action=action,
                                             channel=channel, staff_user=staff_user, reason=reason.strip(),
                                             ip=ip or None)
