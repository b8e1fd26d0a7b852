"""Top spender races: Celery tasks (issue 8)."""
