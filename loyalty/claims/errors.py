"""Errors of claiming a code; each has a stable ``code`` and a Thai/English message."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound


class ClaimCodeInvalid(NotFound):
    code = "claim_code_invalid"
    message = _("This code is not valid. Check it and try again.")


class ClaimCodeUsed(Conflict):
    code = "claim_code_used"
    message = _("This code has already been used.")


class ClaimCodeNotYetValid(DomainError):
    code = "claim_code_not_yet_valid"
    message = _("This code cannot be used yet.")


class ClaimCodeExpired(DomainError):
    code = "claim_code_expired"
    message = _("This code has expired.")


class ClaimLimitReached(DomainError):
    code = "claim_limit_reached"
    message = _("You have already claimed the most codes allowed for this promotion.")


class ClaimRateLimited(DomainError):
    code = "claim_rate_limited"
    message = _("Too many wrong codes. Please wait a while before trying again.")


ERRORS_BY_CODE = {error.code: error for error in (
    ClaimCodeInvalid, ClaimCodeUsed, ClaimCodeNotYetValid, ClaimCodeExpired, ClaimLimitReached, ClaimRateLimited,
)}
