from django.utils.translation import gettext_lazy as _

from config.domain import DomainError, NotFound, ValidationFailed


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = _("No member matches this code, phone number or LINE user.")


class MemberInactive(DomainError):
    code = "member_inactive"
    message = _("This membership is suspended.")


class InvalidPhone(ValidationFailed):
    code = "invalid_phone"
    message = _("Enter a valid Thai phone number, e.g. 081 234 5678.")


class BranchNotFound(ValidationFailed):
    code = "branch_not_found"
    message = _("Unknown branch code for this brand.")


class BranchNotAllowed(DomainError):
    code = "branch_not_allowed"
    message = _("This API key is bound to another branch.")
