"""Registering a member from the portal: verified phone, profile, custom fields, consents,
and the merge of a pending phone-only membership, all in one transaction."""

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.domain import Conflict, ValidationFailed
from consent.selectors import consent_versions_current
from consent.services import consent_record
from loyalty import events
from loyalty.services.transfer import points_merge_member

from .models import Member
from .otp import phone_verification_check
from .profile import custom_fields_clean


class AlreadyRegistered(Conflict):
    code = "already_registered"


@dataclass
class Registration:
    first_name: str
    last_name: str
    verification_id: int | None
    code: str
    birth_date: date | None = None
    gender: str = ""
    email: str = ""
    language: str = "th"
    custom_fields: dict = field(default_factory=dict)
    granted_version_ids: set[int] = field(default_factory=set)


def member_register(*, member: Member, data: Registration, channel: str = "liff", ip: str | None = None,
                    user_agent: str = "") -> Member:
    """Make a pending LINE member active.

    Checks, before writing anything: names, custom fields, every current required consent
    granted, the SMS code for this member's phone. Then, in one transaction with the member
    locked: merges a pending phone-only member with the verified phone (points with their
    expiry, purchases, coupons; exactly once), stores the profile, records the consents
    shown (granted or declined), and activates the member.
    """
    errors = {}
    if not data.first_name.strip():
        errors["first_name"] = [_("This field is required.")]
    if not data.last_name.strip():
        errors["last_name"] = [_("This field is required.")]
    try:
        custom = custom_fields_clean(brand=member.brand, data=data.custom_fields)
    except ValidationFailed as error:
        errors.update(error.fields)
        custom = {}
    versions = consent_versions_current(brand=member.brand)
    missing = [v for v in versions if v.document.is_required and v.pk not in data.granted_version_ids]
    if missing:
        errors["consents"] = [_("Please accept: %(titles)s") % {
            "titles": ", ".join(v.document.title_th for v in missing)}]
    if errors:
        raise ValidationFailed(fields=errors)
    verification = phone_verification_check(verification_id=data.verification_id, code=data.code,
                                            brand=member.brand, member=member)

    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        if locked.status == Member.Status.ACTIVE:
            raise AlreadyRegistered(_("You are already registered."))
        other = (Member.objects.select_for_update().filter(brand=member.brand, phone=verification.phone)
                 .exclude(pk=locked.pk).first())
        if other is not None:
            if other.status != Member.Status.PENDING or other.line_user_id:
                raise ValidationFailed(fields={"phone": [_("This phone number belongs to another member.")]})
            points_merge_member(source=other, target=locked)
            Member.objects.filter(pk=other.pk).update(status=Member.Status.MERGED, phone=None, merged_into=locked,
                                                      updated_at=timezone.now())
        locked.first_name, locked.last_name = data.first_name.strip(), data.last_name.strip()
        locked.phone, locked.birth_date, locked.gender = verification.phone, data.birth_date, data.gender
        locked.email, locked.language = data.email.strip(), data.language
        locked.custom_fields = custom
        locked.status, locked.registered_at = Member.Status.ACTIVE, timezone.now()
        locked.display_name = locked.display_name or locked.first_name
        locked.save()
        for version in versions:
            consent_record(member=locked, version=version, granted=version.pk in data.granted_version_ids,
                           channel=channel, ip=ip, user_agent=user_agent)
        events.emit(events.MEMBER_REGISTERED, member_id=locked.pk)
    return locked
