"""Coupon campaigns admin (issue 8)."""
