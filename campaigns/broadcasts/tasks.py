"""Broadcasts: Celery tasks (issue 9)."""
