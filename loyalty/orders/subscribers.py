"""Domain-event subscribers of the orders app (registered in ``OrdersConfig.ready``).

Events arrive after the registering transaction committed; the work goes to a Celery
task, and a failure to enqueue is logged rather than breaking the member's registration.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)


@events.subscribe(events.MEMBER_REGISTERED)
def credit_orders_on_registration(*, member_id: int, **_payload) -> None:
    from .tasks import credit_pending_orders

    try:
        credit_pending_orders.delay(member_id)
    except Exception:  # noqa: BLE001 - never fail a registration that already committed
        log.exception("crediting pending orders of member %s failed", member_id)
