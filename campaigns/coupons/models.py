"""Coupon campaigns models (issue 8)."""

from django.db import models  # noqa: F401
