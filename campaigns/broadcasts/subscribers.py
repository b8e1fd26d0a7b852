"""Broadcasts: domain-event subscribers (issue 9)."""
