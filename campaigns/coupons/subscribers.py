"""Coupon promotions: domain-event subscribers (registered in ``CouponCampaignsConfig.ready``).

Events arrive after the raising transaction committed, with ids only; the work runs in a
Celery task (eager where no broker is set). A failure to enqueue is logged: the purchase or
registration already committed and must not fail because of a promotion.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)


@events.subscribe(events.PURCHASE_RECORDED)
def coupons_on_purchase(*, purchase_id: int, **_payload) -> None:
    from .tasks import give_purchase_coupons

    try:
        give_purchase_coupons.delay(purchase_id)
    except Exception:  # noqa: BLE001 - the purchase already committed
        log.exception("coupon promotions for purchase %s failed", purchase_id)


@events.subscribe(events.PURCHASE_REFUNDED)
def coupons_on_refund(*, purchase_id: int, **_payload) -> None:
    from .tasks import cancel_refunded_coupons

    try:
        cancel_refunded_coupons.delay(purchase_id)
    except Exception:  # noqa: BLE001 - the refund already committed
        log.exception("coupon cancellation for refunded purchase %s failed", purchase_id)


@events.subscribe(events.MEMBER_REGISTERED)
def coupons_on_registration(*, member_id: int, **_payload) -> None:
    from .tasks import give_welcome_coupons

    try:
        give_welcome_coupons.delay(member_id)
    except Exception:  # noqa: BLE001 - the registration already committed
        log.exception("welcome coupons for member %s failed", member_id)
