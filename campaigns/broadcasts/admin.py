"""Broadcasts admin (issue 9)."""
