"""Missions: Celery tasks (issue 8)."""
