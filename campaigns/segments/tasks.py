"""Segments: Celery tasks. Thin, take ids, idempotent (a refresh recomputes from purchases)."""

from celery import shared_task


@shared_task(acks_late=True)
def refresh_member_stats(member_id: int) -> bool:
    """After a purchase: recompute the member's statistics and purchase months."""
    from .stats import member_stats_refresh

    return member_stats_refresh(member_id=member_id) is not None


@shared_task(acks_late=True)
def refresh_member_stats_for_purchase(purchase_id: int) -> bool:
    """After a refund of the purchase: recompute its member's statistics and purchase months."""
    from loyalty.models import Purchase

    from .stats import member_stats_refresh

    member_id = Purchase.objects.filter(pk=purchase_id).values_list("member_id", flat=True).first()
    return member_id is not None and member_stats_refresh(member_id=member_id) is not None


@shared_task(acks_late=True)
def rebuild_member_stats(brand_id: int | None = None) -> dict:
    """Nightly (beat, 01:00 Bangkok): statistics, RFM scores and purchase months, set-based."""
    from members.models import Brand

    from .stats import member_stats_rebuild

    brand = Brand.objects.get(pk=brand_id) if brand_id is not None else None
    return member_stats_rebuild(brand=brand)
