"""Custom profile fields: rendering data and validation from their definitions, and the
audited profile update."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from config.domain import ValidationFailed
from loyalty import events

from .models import Brand, Member, MemberChange, ProfileField


def profile_fields(*, brand: Brand) -> list[ProfileField]:
    return list(ProfileField.objects.filter(brand=brand, is_active=True).order_by("order", "pk"))


def _clean_one(field: ProfileField, raw) -> object:
    """The stored (JSON) value for one field, or raise ``ValueError`` with a message."""
    values = raw if isinstance(raw, list) else ([raw] if raw not in (None, "") else [])
    values = [str(value).strip() for value in values if str(value).strip()]
    if not values:
        if field.required:
            raise ValueError(_("This field is required."))
        return [] if field.kind == ProfileField.Kind.MULTI_CHOICE else None
    allowed = {choice.get("value") for choice in field.choices}
    if field.kind == ProfileField.Kind.MULTI_CHOICE:
        if any(value not in allowed for value in values):
            raise ValueError(_("Choose from the list."))
        return sorted(set(values))
    value = values[0]
    if field.kind == ProfileField.Kind.CHOICE:
        if value not in allowed:
            raise ValueError(_("Choose from the list."))
        return value
    if field.kind == ProfileField.Kind.NUMBER:
        try:
            number = Decimal(value)
        except InvalidOperation as error:
            raise ValueError(_("Enter a number.")) from error
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return str(number)
    if field.kind == ProfileField.Kind.DATE:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as error:
            raise ValueError(_("Enter a date.")) from error
    if len(value) > 500:
        raise ValueError(_("At most 500 characters."))
    return value


def custom_fields_clean(*, brand: Brand, data: dict) -> dict:
    """Validated values for the brand's active fields; ``ValidationFailed`` names each bad one."""
    cleaned, errors = {}, {}
    for field in profile_fields(brand=brand):
        try:
            cleaned[field.key] = _clean_one(field, data.get(field.key))
        except ValueError as error:
            errors[f"custom_{field.key}"] = [str(error)]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


PROFILE_ATTRIBUTES = ("first_name", "last_name", "email", "birth_date", "gender", "language")


@transaction.atomic
def member_profile_update(*, member: Member, changes: dict, custom_fields: dict | None = None, changed_by=None,
                          channel: str = "liff") -> Member:
    """Apply profile changes at once and audit each changed value (``MemberChange``)."""
    locked = Member.objects.select_for_update().get(pk=member.pk)
    audit = []
    for name in PROFILE_ATTRIBUTES:
        if name in changes and changes[name] != getattr(locked, name):
            audit.append(MemberChange(member=locked, field=name, old_value=str(getattr(locked, name) or ""),
                                      new_value=str(changes[name] or ""), channel=channel, changed_by=changed_by))
            setattr(locked, name, changes[name])
    if custom_fields is not None:
        merged = {**locked.custom_fields, **custom_fields}
        for key, value in custom_fields.items():
            if locked.custom_fields.get(key) != value:
                audit.append(MemberChange(member=locked, field=f"custom:{key}",
                                          old_value=str(locked.custom_fields.get(key) or ""),
                                          new_value=str(value or ""), channel=channel, changed_by=changed_by))
        locked.custom_fields = merged
    if audit:
        locked.save()
        MemberChange.objects.bulk_create(audit)
        events.emit(events.PROFILE_UPDATED, member_id=locked.pk, fields=[change.field for change in audit])
    return locked
