"""Claim codes: generating a batch, and a member claiming a code once.

- ``claim_batch_create`` writes a batch and its code digests in one transaction
  (``bulk_create`` in chunks of 10,000) and returns the plaintext codes once; they can be
  derived again from the batch secret for the downloads (``loyalty.claims.exports``).
- ``claim_code_redeem`` pays a code out once, ever: a conditional ``UPDATE … WHERE
  claimed_by IS NULL`` claims the code row, the member's account is locked for the
  per-member limit, and ``points_post`` writes the earn with the key
  ``claim:{batch}:{code}``, all in one transaction. The same member claiming the same code
  again gets the first entry back (a double tap earns once).
- Wrong codes are counted per member in the cache; after ``CLAIM_WRONG_CODES_PER_HOUR``
  (default 10) every claim of that member is refused, right codes too, until the hour
  that began with the first wrong code has passed.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import ValidationFailed
from loyalty.models import LedgerEntry, PointCurrency
from loyalty.services.ledger import (
    Channel,
    Kind,
    Source,
    account_get_or_create,
    accounts_lock,
    lot_expiry,
    points_post,
)
from members.errors import MemberInactive
from members.models import Brand, Member

from .codes import code_derive, code_digest, code_display, code_is_well_formed, code_normalise
from .errors import (
    ERRORS_BY_CODE,
    ClaimCodeExpired,
    ClaimCodeInvalid,
    ClaimCodeNotYetValid,
    ClaimCodeUsed,
    ClaimLimitReached,
    ClaimRateLimited,
)
from .models import MAX_BATCH_QUANTITY, ClaimBatch, ClaimCode

CHUNK = 10_000
WRONG_CODE_WINDOW = timedelta(hours=1)
FORM_MEMORY_SECONDS = 600


def _wrong_codes_allowed() -> int:
    return getattr(settings, "CLAIM_WRONG_CODES_PER_HOUR", 10)


# --- generation -----------------------------------------------------------------------------


def claim_batch_validate(*, brand: Brand, currency: PointCurrency, points: int, quantity: int,
                         valid_from: datetime, valid_until: datetime | None, per_member_limit: int | None) -> None:
    """The rules of a batch (also run by the admin form); raises ``ValidationFailed`` with field errors."""
    errors = {}
    if currency.brand_id != brand.pk:
        errors["currency"] = [str(_("The currency must belong to the batch's brand."))]
    if not isinstance(points, int) or points <= 0:
        errors["points"] = [str(_("Enter a number of points above zero."))]
    if not isinstance(quantity, int) or not 0 < quantity <= MAX_BATCH_QUANTITY:
        errors["quantity"] = [str(_("Between 1 and %(max)s codes per batch.") % {"max": f"{MAX_BATCH_QUANTITY:,}"})]
    if valid_until is not None and valid_until <= valid_from:
        errors["valid_until"] = [str(_("The end must be after the start."))]
    if per_member_limit is not None and per_member_limit <= 0:
        errors["per_member_limit"] = [str(_("Enter a limit above zero, or leave it empty."))]
    if errors:
        raise ValidationFailed(fields=errors)


def claim_batch_create(
    *,
    brand: Brand,
    name: str,
    points: int,
    quantity: int,
    created_by=None,
    currency: PointCurrency | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    per_member_limit: int | None = None,
    sku: str = "",
    campaign: str = "",
) -> tuple[ClaimBatch, list[str]]:
    """Create a batch of ``quantity`` one-time codes; returns it and its codes (``XXXX-XXXX-XXXX-XXXX``).

    ``currency`` defaults to the brand's default currency, ``valid_from`` to now. Only the
    digests are stored. A digest colliding with an existing code (about 1 in 10^12 for a
    100,000-code batch among 10 million) rolls the batch back and starts over with a new
    secret. Raises ``ValidationFailed`` for a foreign currency, points ≤ 0, a quantity outside
    1…100,000 or an empty window.
    """
    currency = currency or PointCurrency.objects.get(brand=brand, is_default=True)
    valid_from = valid_from or timezone.now()
    claim_batch_validate(brand=brand, currency=currency, points=points, quantity=quantity, valid_from=valid_from,
                         valid_until=valid_until, per_member_limit=per_member_limit)
    for attempt in range(3):
        secret = secrets.token_bytes(32)
        codes = [code_derive(secret, number) for number in range(1, quantity + 1)]
        try:
            with transaction.atomic():
                batch = ClaimBatch.objects.create(
                    brand=brand, currency=currency, name=name, points=points, sku=sku, campaign=campaign,
                    valid_from=valid_from, valid_until=valid_until, per_member_limit=per_member_limit,
                    quantity=quantity, secret=secret.hex(), created_by=created_by,
                )
                for start in range(0, quantity, CHUNK):
                    ClaimCode.objects.bulk_create(
                        [ClaimCode(batch_id=batch.pk, number=start + offset + 1, code_digest=code_digest(code))
                         for offset, code in enumerate(codes[start:start + CHUNK])],
                        batch_size=CHUNK,
                    )
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        return batch, [code_display(code) for code in codes]
    raise AssertionError("unreachable")


# --- claiming -------------------------------------------------------------------------------


def _wrong_keys(member: Member) -> tuple[str, str]:
    return f"claims:wrong:{member.pk}", f"claims:wrong-until:{member.pk}"


def claim_retry_at(*, member: Member) -> datetime | None:
    """When a rate-limited member may try again (None when not known or not limited)."""
    return cache.get(_wrong_keys(member)[1])


def _check_rate_limit(member: Member) -> None:
    count_key, until_key = _wrong_keys(member)
    if (cache.get(count_key) or 0) >= _wrong_codes_allowed():
        raise ClaimRateLimited(retry_at=cache.get(until_key))


def _count_wrong_code(member: Member) -> None:
    count_key, until_key = _wrong_keys(member)
    seconds = int(WRONG_CODE_WINDOW.total_seconds())
    if cache.add(count_key, 1, seconds):
        cache.set(until_key, timezone.now() + WRONG_CODE_WINDOW, seconds)
        return
    try:
        cache.incr(count_key)
    except ValueError:  # the window ended between add and incr: this wrong code opens a new one
        cache.set(count_key, 1, seconds)
        cache.set(until_key, timezone.now() + WRONG_CODE_WINDOW, seconds)


def _claimed_entry(claim_code: ClaimCode, member: Member) -> LedgerEntry:
    """The entry of a code already claimed: the member's own (a replay), or ``ClaimCodeUsed``."""
    if claim_code.claimed_by_id != member.pk or claim_code.ledger_entry_id is None:
        raise ClaimCodeUsed()
    return LedgerEntry.objects.get(pk=claim_code.ledger_entry_id)


def claim_code_redeem(*, member: Member, code: str) -> LedgerEntry:
    """Pay out the code (typed, or the claim URL a QR holds) to ``member``; once per code, ever.

    Transaction: conditional ``UPDATE`` of the code row (claimed by nobody → this member),
    then, for a batch with a per-member limit, ``SELECT … FOR UPDATE`` of the member's account
    before counting their claims in the batch (a member's concurrent claims are serialised,
    code row first, account second, as every ledger path locks), then ``points_post``.
    A second claim by the same member returns the first entry and writes nothing.

    Raises ``ClaimRateLimited`` (before looking at the code), ``ClaimCodeInvalid`` (malformed,
    unknown or another brand's code; counted as a wrong code), ``MemberInactive``,
    ``ClaimCodeUsed``, ``ClaimCodeNotYetValid``, ``ClaimCodeExpired``, ``ClaimLimitReached``.
    Nothing is written when it raises.
    """
    _check_rate_limit(member)
    normalised = code_normalise(code)
    claim_code = None
    if code_is_well_formed(normalised):
        claim_code = (ClaimCode.objects.select_related("batch__currency")
                      .filter(code_digest=code_digest(normalised)).first())
    if claim_code is None or claim_code.batch.brand_id != member.brand_id:
        _count_wrong_code(member)
        raise ClaimCodeInvalid()
    if member.status in (Member.Status.SUSPENDED, Member.Status.MERGED):
        raise MemberInactive()
    if claim_code.claimed_by_id is not None:
        return _claimed_entry(claim_code, member)
    batch = claim_code.batch
    now = timezone.now()
    if now < batch.valid_from:
        raise ClaimCodeNotYetValid()
    if batch.valid_until is not None and now >= batch.valid_until:
        raise ClaimCodeExpired()

    account = account_get_or_create(member=member, currency=batch.currency)
    with transaction.atomic():
        claimed = ClaimCode.objects.filter(pk=claim_code.pk, claimed_by__isnull=True).update(
            claimed_by=member, claimed_at=now)
        if not claimed:  # someone claimed it since we looked; the database decided who
            return _claimed_entry(ClaimCode.objects.get(pk=claim_code.pk), member)
        if batch.per_member_limit is not None:
            accounts_lock([account.pk])
            if ClaimCode.objects.filter(batch=batch, claimed_by=member).count() > batch.per_member_limit:
                raise ClaimLimitReached()
        entry = points_post(
            account=account,
            amount=batch.points,
            kind=Kind.EARN,
            idempotency_key=f"claim:{batch.pk}:{claim_code.pk}",
            source=Source(
                channel=Channel.CLAIM_CODE,
                reference=f"{batch.name} #{claim_code.number}",
                details={"claim_batch": batch.pk, "claim_code": claim_code.pk, "number": claim_code.number,
                         "sku": batch.sku, "campaign": batch.campaign},
            ),
            expires_at=lot_expiry(currency=batch.currency, earned_at=now),
        )
        ClaimCode.objects.filter(pk=claim_code.pk).update(ledger_entry=entry)
    return entry


def claim_form_submit(*, member: Member, code: str, request_id: str) -> LedgerEntry:
    """``claim_code_redeem`` for a portal form carrying ``request_id`` (one per rendered form).

    The outcome is remembered for 10 minutes under ``(member, request_id)``: a repeated
    submission of the same form with the same code gets the same answer without claiming
    again, so a double tap on a wrong code counts as one wrong code.
    """
    key = f"claims:form:{member.pk}:{request_id}"
    normalised = code_normalise(code)
    remembered = cache.get(key)
    if remembered and remembered["code"] == normalised:
        if "error" in remembered:
            raise ERRORS_BY_CODE[remembered["error"]]()
        return LedgerEntry.objects.get(pk=remembered["entry"], account__member=member)
    try:
        entry = claim_code_redeem(member=member, code=code)
    except (ClaimCodeInvalid, ClaimCodeUsed, ClaimCodeExpired, ClaimCodeNotYetValid, ClaimLimitReached) as error:
        cache.set(key, {"code": normalised, "error": error.code}, FORM_MEMORY_SECONDS)
        raise
    cache.set(key, {"code": normalised, "entry": entry.pk}, FORM_MEMORY_SECONDS)
    return entry
