"""Celery tasks for tiers (issue 7)."""
