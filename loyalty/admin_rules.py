"""Admin for rules (issue 7)."""
