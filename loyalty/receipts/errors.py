from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, ValidationFailed


class ReceiptImageInvalid(ValidationFailed):
    """The upload is too big, not an image we read, or has too many pixels (``code_detail`` says which)."""

    code = "receipt_image_invalid"
    message = _("This file is not a photo we can read. Please upload a JPEG, PNG, HEIC or WEBP image.")

    def __init__(self, message=None, *, code_detail: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.code_detail = code_detail


class ReceiptUploadsClosed(DomainError):
    code = "receipt_uploads_closed"
    message = _("Receipt upload is not available for this brand.")


class ReceiptDailyLimit(DomainError):
    code = "receipt_daily_limit"
    message = _("You have uploaded the most receipts allowed today. Please try again tomorrow.")


class ReceiptAlreadyDecided(Conflict):
    code = "receipt_already_decided"
    message = _("This receipt has already been decided.")


class ReceiptDuplicate(Conflict):
    code = "receipt_duplicate"
    message = _("This receipt has already earned points.")


class ReceiptIncomplete(ValidationFailed):
    code = "receipt_incomplete"
    message = _("Total, date, receipt number and store are needed to approve a receipt.")


class ReceiptReasonRequired(ValidationFailed):
    code = "receipt_reason_required"
    message = _("A reason is required to reject a receipt.")
