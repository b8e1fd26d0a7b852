"""Top spender races: domain-event subscribers (issue 8)."""
