"""Lucky draws: Celery tasks (issue 8)."""
