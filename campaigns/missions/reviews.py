"""Product reviews: members review SKUs they bought; staff publish or reject them.

``review_submit`` accepts only a SKU from the member's own purchases that are not fully
refunded; ``(member, sku)`` is unique, so a member reviews a product once (the constraint
decides a double submit). Moderation moves ``pending`` to ``published`` or ``rejected``
by a conditional UPDATE (a review is moderated once); publishing emits
``review_published`` after commit, which the missions subscriber counts.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import events
from loyalty.models import Purchase, PurchaseLine
from members.models import Member

from .errors import ReviewAlreadyModerated, ReviewAlreadyWritten, ReviewNotAllowed
from .events import REVIEW_PUBLISHED
from .models import ProductReview

Status = ProductReview.Status


def bought_line(*, member: Member, sku: str) -> PurchaseLine | None:
    """The member's latest purchase line of ``sku`` in a purchase that still counts."""
    return (PurchaseLine.objects.filter(purchase__member=member, purchase__brand_id=member.brand_id, sku=sku)
            .exclude(purchase__status=Purchase.Status.REFUNDED).exclude(sku="")
            .order_by("-purchase__purchased_at", "-pk").first())


def review_submit(*, member: Member, sku: str, rating: int, text: str = "", product_name: str = "") -> ProductReview:
    """Write the member's review of ``sku`` (pending moderation).

    Raises ``ReviewNotAllowed`` when the member never bought it (or the purchase was fully
    refunded), ``ReviewAlreadyWritten`` for a second review of the same SKU and
    ``ValidationFailed`` for a rating outside 1–5.
    """
    from config.domain import ValidationFailed

    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed(fields={"rating": ["Choose 1 to 5 stars."]})
    line = bought_line(member=member, sku=sku.strip()) if sku.strip() else None
    if line is None:
        raise ReviewNotAllowed()
    try:
        with transaction.atomic():
            return ProductReview.objects.create(
                brand_id=member.brand_id, member=member, purchase_line=line, sku=line.sku,
                product_name=(product_name or line.category or line.sku)[:200], rating=rating, text=text.strip()[:2000])
    except IntegrityError:
        raise ReviewAlreadyWritten() from None


def _moderate(review: ProductReview, *, staff_user, status: str) -> ProductReview:
    now = timezone.now()
    with transaction.atomic():
        changed = ProductReview.objects.filter(pk=review.pk, status=Status.PENDING).update(
            status=status, moderated_by=staff_user, moderated_at=now, updated_at=now)
        if not changed:
            raise ReviewAlreadyModerated()
        if status == Status.PUBLISHED:
            events.emit(REVIEW_PUBLISHED, review_id=review.pk, member_id=review.member_id)
    review.refresh_from_db()
    return review


def review_publish(*, review: ProductReview, staff_user) -> ProductReview:
    """Pending → published, once (``ReviewAlreadyModerated`` otherwise); emits ``review_published``."""
    return _moderate(review, staff_user=staff_user, status=Status.PUBLISHED)


def review_reject(*, review: ProductReview, staff_user) -> ProductReview:
    """Pending → rejected, once (``ReviewAlreadyModerated`` otherwise)."""
    return _moderate(review, staff_user=staff_user, status=Status.REJECTED)
