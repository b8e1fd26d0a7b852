"""Lucky draws admin (issue 8)."""
