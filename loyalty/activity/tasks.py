"""Celery tasks for activity points: thin and idempotent; services are imported inside the bodies."""

from datetime import date

from celery import shared_task

BIRTHDAY_BATCH = 500


@shared_task(acks_late=True)
def award_registration(member_id: int) -> None:
    """Registration points, and profile points when the registration filled the whole profile."""
    from .services import profile_complete_award, registration_award

    registration_award(member_id=member_id)
    profile_complete_award(member_id=member_id)


@shared_task(acks_late=True)
def award_profile_complete(member_id: int) -> None:
    from .services import profile_complete_award

    profile_complete_award(member_id=member_id)


@shared_task(acks_late=True)
def award_birthdays(day: str | None = None) -> int:
    """Daily (Bangkok morning): queue birthday points for the members due today, in batches.

    ``day`` (ISO date) re-runs a missed day. Members are selected set-based per rule; a
    member already awarded this year is excluded by the query and refused by the keys.
    Returns how many members were queued.
    """
    from .services import bangkok_today, birthday_members, birthday_rules

    today = date.fromisoformat(day) if day else bangkok_today()
    queued = 0
    for rule in birthday_rules():
        member_ids = list(birthday_members(rule=rule, today=today))
        for start in range(0, len(member_ids), BIRTHDAY_BATCH):
            batch = member_ids[start:start + BIRTHDAY_BATCH]
            award_birthday_batch.delay(rule.pk, batch, today.year)
            queued += len(batch)
    return queued


@shared_task(acks_late=True)
def award_birthday_batch(rule_id: int, member_ids: list[int], year: int) -> int:
    from .models import ActivityRule
    from .services import birthday_award

    rule = ActivityRule.objects.filter(pk=rule_id, is_active=True).select_related("currency").first()
    if rule is None:
        return 0
    awarded = 0
    for member_id in member_ids:
        result = birthday_award(member_id=member_id, rule=rule, year=year)
        awarded += bool(result and result.created)
    return awarded
