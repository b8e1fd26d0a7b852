"""Coupon campaigns: domain-event subscribers (issue 8)."""
