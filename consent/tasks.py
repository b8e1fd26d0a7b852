"""Celery tasks for consent: thin and idempotent; services are imported inside the bodies."""

from celery import shared_task


@shared_task(acks_late=True)
def consent_export_build(export_id: int) -> None:
    """Build one consent-log CSV export (a finished export is left as it is)."""
    from .reports import consent_export_build as build

    build(export_id=export_id)
