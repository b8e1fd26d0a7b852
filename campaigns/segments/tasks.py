"""Segments: Celery tasks (issue 9)."""
