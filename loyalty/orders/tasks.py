"""Celery tasks for orders: thin and idempotent; services are imported inside the bodies
(the services enqueue these tasks)."""

from celery import shared_task
from django.db import OperationalError


@shared_task(bind=True, acks_late=True, max_retries=5)
def process_order_import(self, import_id: int) -> None:
    """Apply an uploaded marketplace export; resumable, so a retry continues where it stopped."""
    from .imports import order_import_fail, order_import_process

    try:
        order_import_process(import_id=import_id)
    except OperationalError as error:  # a lost database connection: transient
        if self.request.is_eager or self.request.retries >= self.max_retries:
            order_import_fail(import_id=import_id, error=error)
            raise
        raise self.retry(exc=error, countdown=min(2 ** self.request.retries * 5, 300)) from error
    except Exception as error:
        order_import_fail(import_id=import_id, error=error)  # staff see it and may process it again
        raise


@shared_task(acks_late=True)
def credit_pending_orders(member_id: int) -> int:
    """Credit the orders that waited for this newly registered member; returns how many were credited."""
    from .services import pending_orders_credit_for_member

    return sum(1 for outcome in pending_orders_credit_for_member(member_id=member_id)
               if outcome.status == "credited" and outcome.created)


@shared_task(acks_late=True)
def sweep_pending_orders() -> int:
    """Hourly safety net: credit pending orders whose buyer registered meanwhile."""
    from .services import pending_orders_sweep

    return pending_orders_sweep()
