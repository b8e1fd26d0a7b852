"""Lucky draws: domain-event subscribers (issue 8)."""
