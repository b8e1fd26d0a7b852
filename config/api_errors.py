"""One place that turns errors into the API's JSON shape and HTTP status.

Every error body is ``{"error": {"code": "...", "message": "...", "fields": {...}}}``;
``code`` is stable, ``message`` is in the request's language (Thai by default).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.domain import Conflict, DomainError, NotFound, ValidationFailed

STATUS_BY_CODE = {
    "insufficient_points": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "reward_inactive": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "reward_out_of_stock": status.HTTP_409_CONFLICT,
    "reward_tier_required": status.HTTP_403_FORBIDDEN,
    "coupon_expired": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "coupon_cancelled": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "member_inactive": status.HTTP_403_FORBIDDEN,
    "branch_not_allowed": status.HTTP_403_FORBIDDEN,
    "no_earn_rule": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "otp_rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "claim_rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
}


def status_for(error: DomainError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    if isinstance(error, NotFound):
        return status.HTTP_404_NOT_FOUND
    if isinstance(error, Conflict):
        return status.HTTP_409_CONFLICT
    if isinstance(error, ValidationFailed):
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_422_UNPROCESSABLE_ENTITY


def error_body(code: str, message, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def flatten_errors(detail):
    if isinstance(detail, dict):
        return {key: flatten_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [str(item) for item in detail]
        return [flatten_errors(item) for item in detail]
    return [str(detail)]


VALIDATION_MESSAGE = ValidationFailed.message


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=status_for(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("validation_error", VALIDATION_MESSAGE, flatten_errors(detail))
    else:
        response.data = error_body(exc.default_code, exc.detail)
    return response
