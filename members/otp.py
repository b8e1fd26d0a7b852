"""Phone verification by a one-time SMS code.

Design overview
- ``PhoneVerification`` is one code sent to one E.164 phone for one brand (and the member
  asking, when known). Only an HMAC-SHA256 of the code (keyed with ``SECRET_KEY`` and
  bound to brand and phone) is stored; the plaintext exists only in the SMS.
- A code lives ``CODE_TTL`` (5 minutes) and allows ``MAX_ATTEMPTS`` (5) checks; after
  that it is locked and the member requests a new one.
- Sending is limited per phone number, across brands (it protects the number's owner
  from SMS floods): one code per ``RESEND_INTERVAL`` (60 s) and ``HOURLY_LIMIT`` (5) per
  rolling hour. The limit is decided under a PostgreSQL advisory lock on the phone, so
  concurrent requests cannot both pass it.
- ``verified_at`` is set once. Registration then asks ``phone_verification_get_verified``
  for the same brand, phone (and member), so a verification cannot vouch for another number.
- The SMS leaves after commit (``transaction.on_commit``); no code is ever logged.

The model lives here with its services; ``members.models`` imports it so Django registers
it in the ``members`` app.
"""

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError, NotFound, ValidationFailed

from .sms import sms_send

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(seconds=60)
HOURLY_LIMIT = 5
VERIFIED_MAX_AGE = timedelta(minutes=30)
SMS_TEXT = "รหัสยืนยัน Taem: {code} (ใช้ได้ 5 นาที) / Your Taem code: {code}"


class OtpTooManyRequests(DomainError):
    code = "otp_rate_limited"
    message = _("Too many codes were requested for this phone number. Please wait and try again.")


class OtpNotFound(NotFound):
    code = "otp_not_found"
    message = _("No code was sent for this phone number. Request a new code.")


class OtpInvalid(ValidationFailed):
    code = "otp_invalid"
    message = _("This code is not correct.")


class OtpExpired(DomainError):
    code = "otp_expired"
    message = _("This code has expired. Request a new code.")


class OtpLocked(DomainError):
    code = "otp_locked"
    message = _("Too many wrong codes. Request a new code.")


class OtpNotVerified(DomainError):
    code = "otp_not_verified"
    message = _("Verify this phone number with the code we send by SMS first.")


class PhoneVerification(models.Model):
    brand = models.ForeignKey("members.Brand", on_delete=models.CASCADE, related_name="phone_verifications")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, null=True, blank=True, related_name="phone_verifications"
    )
    phone = models.CharField(_("phone (E.164)"), max_length=20)
    code_digest = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("code attempts"), default=0)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        app_label = "members"
        verbose_name = _("phone verification")
        verbose_name_plural = _("phone verifications")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["phone", "created_at"], name="phone_verification_rate"),
            models.Index(fields=["brand", "phone", "member", "created_at"], name="phone_verification_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.created_at:%Y-%m-%d %H:%M})"


def code_digest(*, brand_id: int, phone: str, code: str) -> str:
    message = f"taem-otp:{brand_id}:{phone}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _lock_phone(phone: str) -> None:
    """Serialise code requests for one phone until the transaction ends (PostgreSQL; SQLite serialises writes)."""
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"taem-otp:{phone}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def phone_verification_start(*, brand, member=None, phone: str) -> PhoneVerification:
    """Send a new 6-digit code by SMS to ``phone`` (normalised to E.164) and return its verification.

    Raises ``InvalidPhone``; ``OtpTooManyRequests`` (``error.context["retry_after"]`` in
    seconds) when a code went to this number less than 60 s ago or 5 times in the last
    hour. Holds an advisory lock on the phone for its short transaction; the SMS is sent
    after commit, outside it.
    """
    from .services import phone_normalise

    if member is not None and member.brand_id != brand.pk:
        raise ValidationFailed(fields={"member": [str(_("The member must belong to this brand."))]})
    e164 = phone_normalise(phone)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        _lock_phone(e164)
        now = timezone.now()
        recent = list(PhoneVerification.objects.filter(phone=e164, created_at__gt=now - timedelta(hours=1))
                      .order_by("-created_at").values_list("created_at", flat=True)[:HOURLY_LIMIT])
        if recent and now - recent[0] < RESEND_INTERVAL:
            raise OtpTooManyRequests(retry_after=_seconds_until(recent[0] + RESEND_INTERVAL, now))
        if len(recent) >= HOURLY_LIMIT:
            raise OtpTooManyRequests(retry_after=_seconds_until(recent[-1] + timedelta(hours=1), now))
        verification = PhoneVerification.objects.create(
            brand=brand, member=member, phone=e164, created_at=now, expires_at=now + CODE_TTL,
            code_digest=code_digest(brand_id=brand.pk, phone=e164, code=code),
        )
        text = SMS_TEXT.format(code=code)
        transaction.on_commit(lambda: sms_send(phone=e164, text=text))
    return verification


def _find(*, verification_id, brand, member, phone) -> PhoneVerification:
    from .services import phone_normalise

    verifications = PhoneVerification.objects.select_for_update()
    if verification_id is not None:
        verifications = verifications.filter(pk=verification_id)
    elif brand is None or not phone:
        raise OtpNotFound()
    elif member is None:
        verifications = verifications.filter(member__isnull=True)
    if brand is not None:
        verifications = verifications.filter(brand=brand)
    if member is not None:
        verifications = verifications.filter(member=member)
    if phone:
        verifications = verifications.filter(phone=phone_normalise(phone))
    verification = verifications.order_by("-created_at", "-pk").first()
    if verification is None:
        raise OtpNotFound()
    return verification


def phone_verification_check(*, code: str, verification_id: int | None = None, brand=None, member=None,
                             phone: str | None = None) -> PhoneVerification:
    """Check ``code`` against a verification; on success it is verified (``verified_at`` set once).

    The verification is found by ``verification_id`` or, without it, as the latest for
    ``brand`` + ``member`` (may be ``None``) + ``phone``; any of brand, member and phone
    given with an id must match it (``OtpNotFound`` otherwise). Compares in constant time.
    Raises ``OtpLocked`` once ``MAX_ATTEMPTS`` checks were used, ``OtpExpired``,
    ``OtpInvalid`` (``error.context["attempts_left"]``). Checking a verified code again
    returns it unchanged.

    Locks the verification row. Each check counts, and the count is committed before the
    error is raised: call it outside a transaction that an error would roll back.
    """
    submitted = "".join(str(code or "").split())
    with transaction.atomic():
        verification = _find(verification_id=verification_id, brand=brand, member=member, phone=phone)
        expected = verification.code_digest
        matches = hmac.compare_digest(
            code_digest(brand_id=verification.brand_id, phone=verification.phone, code=submitted), expected
        )
        now = timezone.now()
        if verification.verified_at is not None:
            error = None if matches else OtpInvalid(fields={"code": [str(OtpInvalid.message)]})
        elif verification.attempts >= MAX_ATTEMPTS:
            error = OtpLocked()
        elif now >= verification.expires_at:
            error = OtpExpired()
        else:
            verification.attempts += 1
            changes = {"attempts": F("attempts") + 1}
            if matches:
                verification.verified_at = changes["verified_at"] = now
                error = None
            elif verification.attempts >= MAX_ATTEMPTS:
                error = OtpLocked()
            else:
                error = OtpInvalid(fields={"code": [str(OtpInvalid.message)]},
                                   attempts_left=MAX_ATTEMPTS - verification.attempts)
            PhoneVerification.objects.filter(pk=verification.pk).update(**changes)
    if error is not None:
        raise error
    return verification


def phone_verification_get_verified(*, verification_id: int, brand, phone: str, member=None,
                                    max_age: timedelta = VERIFIED_MAX_AGE) -> PhoneVerification:
    """The verification ``verification_id`` if it proved ``phone`` for ``brand`` (and ``member``) recently.

    Registration calls this before saving a phone: a verification for another number,
    brand or member, not verified, or verified more than ``max_age`` ago raises
    ``OtpNotVerified``.
    """
    from .services import phone_normalise

    e164 = phone_normalise(phone)
    verifications = PhoneVerification.objects.filter(
        pk=verification_id, brand=brand, phone=e164, verified_at__gte=timezone.now() - max_age
    )
    if member is not None:
        verifications = verifications.filter(member=member)
    verification = verifications.first()
    if verification is None:
        raise OtpNotVerified(fields={"phone": [str(OtpNotVerified.message)]})
    return verification


def phone_verifications_purge(*, before: datetime) -> int:
    """Delete verifications created before ``before`` (phone numbers are kept no longer than needed)."""
    deleted, _by_model = PhoneVerification.objects.filter(created_at__lt=before).delete()
    return deleted
