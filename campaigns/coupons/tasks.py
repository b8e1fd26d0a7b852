"""Coupon promotions: Celery tasks. Thin and idempotent (every coupon has a derived key)."""

from datetime import date

from celery import shared_task

BIRTHDAY_BATCH = 500


@shared_task(acks_late=True)
def give_purchase_coupons(purchase_id: int) -> int:
    from .services import coupons_for_purchase

    return sum(given.result.created for given in coupons_for_purchase(purchase_id=purchase_id))


@shared_task(acks_late=True)
def cancel_refunded_coupons(purchase_id: int) -> int:
    from .services import coupons_on_refund

    return coupons_on_refund(purchase_id=purchase_id)


@shared_task(acks_late=True)
def give_welcome_coupons(member_id: int) -> int:
    from .services import welcome_coupons

    return sum(given.result.created for given in welcome_coupons(member_id=member_id))


@shared_task(acks_late=True)
def issue_birthday_coupons(day: str | None = None) -> int:
    """Daily (08:10 Bangkok): queue the birthday coupons due today, per rule, in batches.

    ``day`` (ISO date) re-runs a missed day. Members are selected set-based per rule; one
    already given this year's coupon is excluded by the query and refused by the key.
    Returns how many members were queued.
    """
    from .services import bangkok_today, birthday_members, birthday_rules

    today = date.fromisoformat(day) if day else bangkok_today()
    queued = 0
    for rule in birthday_rules():
        member_ids = list(birthday_members(rule=rule, today=today))
        for start in range(0, len(member_ids), BIRTHDAY_BATCH):
            batch = member_ids[start:start + BIRTHDAY_BATCH]
            issue_birthday_coupon_batch.delay(rule.pk, batch, today.year)
            queued += len(batch)
    return queued


@shared_task(acks_late=True)
def issue_birthday_coupon_batch(rule_id: int, member_ids: list[int], year: int) -> int:
    from .models import CouponRule
    from .services import birthday_coupon

    rule = CouponRule.objects.filter(pk=rule_id, status=CouponRule.Status.ACTIVE).select_related("reward").first()
    if rule is None:
        return 0
    given = 0
    for member_id in member_ids:
        result = birthday_coupon(rule=rule, member_id=member_id, year=year)
        given += bool(result and result.created)
    return given
