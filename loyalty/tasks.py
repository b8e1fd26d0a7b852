"""Celery tasks for tiers and domain-event dispatch: thin and idempotent; services are imported inside the bodies."""

from celery import shared_task


@shared_task(acks_late=True)
def review_tiers(brand_id: int | None = None) -> dict:
    """Nightly (00:30 Bangkok, beat): the set-based tier review of every brand (or one).

    Safe to re-run the same day: the second run finds nobody due. The LINE messages for
    the run's changes are sent by the ``tiers_reviewed`` subscriber, in batches.
    """
    from members.models import Brand

    from .services.tiers import tiers_review

    brand = Brand.objects.filter(pk=brand_id).first() if brand_id else None
    return tiers_review(brand=brand)


@shared_task(acks_late=True)
def award_tier_birthdays(day: str | None = None) -> int:
    """Tier birthday bonuses for today (also given by the daily birthday run); once per member and year."""
    from datetime import date

    from .activity.services import tier_birthday_awards_run

    return tier_birthday_awards_run(today=date.fromisoformat(day) if day else None)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def events_dispatch(batch: list) -> int:
    """The worker subscribers of a committed block's domain events (``loyalty.events``)."""
    from . import events

    return events.dispatch(batch)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(Exception,), dont_autoretry_for=(LookupError,),
             max_retries=8, retry_backoff=5, retry_backoff_max=600)
def events_handler_retry(event: str, handler: str, payload: dict) -> None:
    """One worker subscriber of one event again, after it raised in ``events_dispatch``."""
    from . import events

    found = events.worker_handler(event, handler)
    if found is None:
        raise LookupError(f"no worker subscriber {handler} for {event}")
    found(**payload)


@shared_task(acks_late=True)
def events_resend() -> int:
    """Every second (beat): queue the domain events of the outbox (``loyalty.events.resend_parked``)."""
    from . import events

    return events.resend_parked()
