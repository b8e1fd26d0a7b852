"""Celery tasks for point expiry and reminders (issue 7)."""
