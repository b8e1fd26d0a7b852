"""Domain errors shared by every app's services.

A service raises a ``DomainError`` subclass with a stable ``code``; the API layer maps
codes to HTTP statuses in one place (``config.api_errors``), and the admin shows
``message`` to staff. Messages are translatable (Thai first, English second).
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    message = _("The request could not be completed.")

    def __init__(self, message=None, *, fields: dict | None = None, **context):
        self.message = message or self.message
        self.fields = fields or {}
        self.context = context
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    code = "validation_error"
    message = _("Some fields are not valid.")


class NotFound(DomainError):
    code = "not_found"
    message = _("Not found.")


class Conflict(DomainError):
    code = "conflict"
    message = _("The request conflicts with the current state.")
