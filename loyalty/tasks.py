"""Celery tasks for tiers: thin and idempotent; services are imported inside the bodies."""

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
