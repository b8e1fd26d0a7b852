"""Celery tasks for analytics: thin and idempotent; services are imported inside the bodies."""

from datetime import date

from celery import shared_task


@shared_task(acks_late=True)
def facts_rebuild_nightly() -> None:
    """Rebuild every brand's daily facts of the last few days (yesterday included)."""
    from .facts import facts_rebuild_recent
    from .kpis import dashboard_warm

    facts_rebuild_recent()
    dashboard_warm()


@shared_task(acks_late=True)
def live_figures_refresh(brand_id: int) -> None:
    """Recompute one brand's current-state dashboard figures (queued when the shown ones are stale)."""
    from members.models import Brand

    from .kpis import live_figures_refresh as refresh

    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is not None:
        refresh(brand=brand)


@shared_task(acks_late=True)
def facts_rebuild_days(start: str, end: str | None = None, brand_ids: list[int] | None = None) -> None:
    """Rebuild the facts of ISO dates ``start..end``."""
    from .facts import facts_rebuild

    facts_rebuild(start=date.fromisoformat(start), end=date.fromisoformat(end) if end else None, brand_ids=brand_ids)


@shared_task(acks_late=True)
def report_export_build(export_id: int) -> None:
    """Build one report export (a finished export is left as it is)."""
    from .reports import report_export_build as build

    build(export_id=export_id)
