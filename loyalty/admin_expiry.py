"""Admin for expiry (issue 7)."""
