"""Admin for tiers (issue 7)."""
