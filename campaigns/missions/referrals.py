"""Referrals: a member's link to the registration page carries their member code.

The portal's ``register`` view keeps ``?ref=<code>`` in the session and, after a successful
registration, calls ``referral_record``. A member is referred at most once
(``referred`` is unique; the constraint decides a race), never by themselves and only by
an active member of the same brand. The ``referral_recorded`` event (after commit) lets
the missions subscriber count it for the referrer.
"""

from django.db import IntegrityError, transaction

from loyalty import events
from members.models import Member

from .events import REFERRAL_RECORDED
from .models import Referral


def normalise_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())[:16]


def referral_record(*, referred: Member, code: str) -> Referral | None:
    """Record that ``referred`` registered through the link of the member with ``code``.

    Returns the referral (the existing one when the member was already referred) or None
    when the code matches no other active member of the brand, or the member is not active.
    """
    code = normalise_code(code)
    if not code or referred.status != Member.Status.ACTIVE:
        return None
    referrer = (Member.objects.filter(brand_id=referred.brand_id, code=code, status=Member.Status.ACTIVE)
                .exclude(pk=referred.pk).first())
    if referrer is None:
        return None
    existing = Referral.objects.filter(referred=referred).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            referral = Referral.objects.create(brand_id=referred.brand_id, referrer=referrer, referred=referred)
            events.emit(REFERRAL_RECORDED, referral_id=referral.pk, referrer_id=referrer.pk)
    except IntegrityError:
        return Referral.objects.filter(referred=referred).first()
    return referral
