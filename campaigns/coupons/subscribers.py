"""Coupon promotions: domain-event subscribers (registered in ``CouponCampaignsConfig.ready``).

Events arrive after the raising transaction committed, with ids only. Purchases and refunds
are handled in a Celery worker (``loyalty.events``, ``in_worker``: one task per purchase for
all its subscribers; a failure is retried on its own); a registration queues its own task.
A failure to enqueue is logged: the registration already committed and must not fail
because of a promotion.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)


@events.subscribe(events.PURCHASE_RECORDED, in_worker=True)
def coupons_on_purchase(*, purchase_id: int, **_payload) -> None:
    from .tasks import give_purchase_coupons

    give_purchase_coupons(purchase_id)


@events.subscribe(events.PURCHASE_REFUNDED, in_worker=True)
def coupons_on_refund(*, purchase_id: int, **_payload) -> None:
    from .tasks import cancel_refunded_coupons

    cancel_refunded_coupons(purchase_id)


@events.subscribe(events.MEMBER_REGISTERED)
def coupons_on_registration(*, member_id: int, **_payload) -> None:
    from .tasks import give_welcome_coupons

    try:
        give_welcome_coupons.delay(member_id)
    except Exception:  # noqa: BLE001 - the registration already committed
        log.exception("welcome coupons for member %s failed", member_id)
