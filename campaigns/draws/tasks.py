"""Lucky draws: Celery tasks (thin, idempotent; the services decide)."""

from celery import shared_task


@shared_task(acks_late=True)
def run_due_draws() -> dict:
    """Every 5 minutes (beat): close entries that are due, draw the draws whose draw time passed,
    and finish prize deliveries a crash interrupted. A draw is drawn once however often this runs."""
    from .services import draws_run_due

    result = draws_run_due()
    return {"closed": result["closed"], "drawn": result["drawn"]}
