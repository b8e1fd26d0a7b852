"""Top spender races admin (issue 8)."""
