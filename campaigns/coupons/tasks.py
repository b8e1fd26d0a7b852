"""Coupon campaigns: Celery tasks (issue 8)."""
