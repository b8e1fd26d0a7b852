"""Writes for members. Every function is keyword-only and owns its transaction."""

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from config.domain import ValidationFailed

from .errors import InvalidPhone
from .models import Brand, Member


def phone_normalise(raw: str) -> str:
    """A Thai (or international, with +) phone number in E.164, or ``InvalidPhone``."""
    try:
        parsed = phonenumbers.parse(str(raw), "TH")
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(fields={"phone": [str(InvalidPhone.message)]}) from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(fields={"phone": [str(InvalidPhone.message)]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def member_get_or_create_pending(*, brand: Brand, phone: str) -> tuple[Member, bool]:
    """The member with this phone at this brand, or a new pending (phone-only) member.

    Safe under concurrency: the unique (brand, phone) constraint decides the race and the
    loser reads the winner's row.
    """
    e164 = phone_normalise(phone)
    member = Member.objects.filter(brand=brand, phone=e164).first()
    if member is not None:
        return member, False
    try:
        with transaction.atomic():
            return Member.objects.create(brand=brand, phone=e164, status=Member.Status.PENDING), True
    except IntegrityError:
        return Member.objects.get(brand=brand, phone=e164), False


def api_key_create(*, brand: Brand, name: str, branch=None, created_by=None, raw_key: str | None = None):
    """Create an API key; returns ``(key, raw_key)``. Only the digest is stored: show ``raw_key`` once."""
    from .models import ApiKey

    if branch is not None and branch.brand_id != brand.pk:
        raise ValidationFailed(fields={"branch": [str(_("The branch must belong to the key's brand."))]})
    raw_key = raw_key or ApiKey.new_raw_key()
    key = ApiKey(brand=brand, branch=branch, name=name, created_by=created_by)
    key.set_key(raw_key)
    key.save()
    return key, raw_key
