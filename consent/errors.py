from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound, ValidationFailed


class ConsentVersionNotFound(NotFound):
    code = "consent_version_not_found"
    message = _("No consent document version with this ID.")


class ConsentVersionNotPublished(DomainError):
    code = "consent_version_not_published"
    message = _("This version of the document is not published.")


class ConsentVersionImmutable(Conflict):
    code = "consent_version_immutable"
    message = _("A published version cannot be changed or deleted; publish a new version instead.")


class ConsentVersionAlreadyPublished(Conflict):
    code = "consent_version_already_published"
    message = _("This version is already published.")


class ConsentVersionNotNewer(ValidationFailed):
    code = "consent_version_not_newer"
    message = _("The version number must be higher than every published version of the document.")


class ConsentReasonRequired(ValidationFailed):
    code = "consent_reason_required"
    message = _("Give the reason for recording consent on the member's behalf.")


class ConsentStaffUserRequired(ValidationFailed):
    code = "consent_staff_user_required"
    message = _("Consent recorded on the member's behalf must name the staff user.")


class ConsentsMissing(DomainError):
    code = "consents_missing"
    message = _("Please accept the required terms to continue.")


class ConsentDocumentRequired(DomainError):
    code = "consent_document_required"
    message = _("This document is required to use the membership; it cannot be withdrawn here.")


class ConsentDocumentNotFound(NotFound):
    code = "consent_document_not_found"
    message = _("No consent document with this ID.")


class ConsentNoCurrentVersion(DomainError):
    code = "consent_no_current_version"
    message = _("This document has no version in effect yet.")


class DataAccessReasonRequired(ValidationFailed):
    code = "data_access_reason_required"
    message = _("Give the reason for accessing this member's personal data.")
