"""Reads for the receipts pages: always scoped to the member (portal) or the staff user's brands (admin)."""

from django.db.models import QuerySet

from members.models import Member
from members.selectors import brand_ids_for_user

from .models import Receipt

MEMBER_LIST_SIZE = 50


def receipts_for_member(*, member: Member) -> QuerySet[Receipt]:
    """The member's latest receipts, newest first, with what the page shows (no query per row)."""
    return (Receipt.objects.filter(member=member).select_related("store", "branch", "purchase")
            .order_by("-created_at", "-pk")[:MEMBER_LIST_SIZE])


def receipt_for_member(*, member: Member, receipt_id: int) -> Receipt | None:
    return Receipt.objects.filter(member=member, pk=receipt_id).first()


def receipt_review_queue(*, user) -> QuerySet[Receipt]:
    """Receipts waiting for staff in the user's brands, oldest first."""
    return (Receipt.objects.filter(brand_id__in=brand_ids_for_user(user), status=Receipt.Status.NEEDS_REVIEW)
            .order_by("created_at", "pk"))


def receipts_in_progress(*, member: Member) -> bool:
    return Receipt.objects.filter(member=member, status__in=(Receipt.Status.QUEUED, Receipt.Status.PROCESSING)).exists()
