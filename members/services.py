"""Writes for members. Every function is keyword-only and owns its transaction."""

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import ValidationFailed

from .errors import InvalidPhone
from .models import ApiKey, Brand, Member


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


def api_key_create(*, brand: Brand, name: str, branch=None, channel: str = "pos", created_by=None,
                   raw_key: str | None = None):
    """Create an API key; returns ``(key, raw_key)``. Only the digest is stored: show ``raw_key`` once."""
    if branch is not None and branch.brand_id != brand.pk:
        raise ValidationFailed(fields={"branch": [str(_("The branch must belong to the key's brand."))]})
    raw_key = raw_key or ApiKey.new_raw_key()
    key = ApiKey(brand=brand, branch=branch, name=name, channel=channel, created_by=created_by)
    key.set_key(raw_key)
    key.save()
    return key, raw_key


def member_line_follow(*, brand: Brand, line_user_id: str, display_name: str = "") -> tuple[Member, bool]:
    """A follow (or re-follow after a block): the member for this LINE user, reachable again.

    Creates a pending (unregistered) member on the first follow. Safe under concurrency:
    the unique (brand, line_user_id) constraint decides the race.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            member, created = Member.objects.get_or_create(
                brand=brand, line_user_id=line_user_id,
                defaults={"display_name": display_name[:200], "status": Member.Status.PENDING},
            )
    except IntegrityError:
        member, created = Member.objects.get(brand=brand, line_user_id=line_user_id), False
    Member.objects.filter(pk=member.pk).update(line_reachable=True, line_followed_at=now)
    member.line_reachable, member.line_followed_at = True, now
    return member, created


def member_line_unfollow(*, brand: Brand, line_user_id: str) -> int:
    """The LINE user blocked the OA: no pushes are attempted to them until they follow again."""
    return Member.objects.filter(brand=brand, line_user_id=line_user_id).update(
        line_reachable=False, line_unfollowed_at=timezone.now()
    )


def member_line_login(*, brand: Brand, line_user_id: str, display_name: str = "", picture_url: str = "") -> Member:
    """The member for a LINE user the server verified (LIFF ID token or LINE Login).

    Ensures a Django ``User`` linked one-to-one to the member and an allauth
    ``SocialAccount(provider="line", uid=line_user_id)``, so LIFF and web login end at the
    same user. Creates a pending member when the LINE user is new to the brand.
    """
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth import get_user_model

    User = get_user_model()
    with transaction.atomic():
        member, _created = Member.objects.select_for_update().get_or_create(
            brand=brand, line_user_id=line_user_id,
            defaults={"display_name": display_name[:200], "status": Member.Status.PENDING},
        )
        social = SocialAccount.objects.select_related("user").filter(provider="line", uid=line_user_id).first()
        user = member.user or (social.user if social else None)
        if user is None:
            user, _ = User.objects.get_or_create(username=f"line_{line_user_id}"[:150])
            if user.has_usable_password():
                user.set_unusable_password()
                user.save(update_fields=["password"])
        if member.user_id is None and not hasattr(user, "member"):
            member.user = user
            member.save(update_fields=["user", "updated_at"])
        if social is None:
            SocialAccount.objects.get_or_create(
                provider="line", uid=line_user_id,
                defaults={"user": user, "extra_data": {"userId": line_user_id, "displayName": display_name,
                                                       "pictureUrl": picture_url}},
            )
        if display_name and not member.display_name:
            Member.objects.filter(pk=member.pk).update(display_name=display_name[:200])
            member.display_name = display_name[:200]
    return member
