"""Reads for claim codes: codes derived again for the downloads, counts, a member's claims."""

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from loyalty.models import LedgerEntry
from members.models import Member

from .codes import code_derive, code_display
from .models import ClaimBatch, ClaimCode


def claim_batch_codes(*, batch: ClaimBatch, start: int = 1, count: int | None = None):
    """Yield ``(number, "XXXX-XXXX-XXXX-XXXX")`` for codes ``start``… (1-based) of the batch, derived again."""
    secret = batch.secret_bytes
    stop = batch.quantity if count is None else min(batch.quantity, start + count - 1)
    for number in range(max(1, start), stop + 1):
        yield number, code_display(code_derive(secret, number))


def claim_url(*, batch: ClaimBatch, code: str) -> str:
    """The URL a label's QR holds: the brand's claim page with the code filled in."""
    path = reverse("liff:claim", args=[batch.brand.slug])
    return f"{settings.SITE_URL.rstrip('/')}{path}?code={code}"


def claim_batches_with_counts(queryset: QuerySet[ClaimBatch]) -> QuerySet[ClaimBatch]:
    """``claimed_count`` on each batch, counted through the partial index of claimed codes."""
    claimed = (ClaimCode.objects.filter(batch=OuterRef("pk"), claimed_by__isnull=False)
               .order_by().values("batch").annotate(n=Count("pk")).values("n"))
    return queryset.annotate(claimed_count=Coalesce(Subquery(claimed, output_field=IntegerField()), 0))


def claim_batch_claimed_count(*, batch: ClaimBatch) -> int:
    return ClaimCode.objects.filter(batch=batch, claimed_by__isnull=False).count()


def claim_batch_first_unclaimed(*, batch: ClaimBatch) -> int | None:
    """The lowest label number of the batch nobody has claimed yet."""
    return (ClaimCode.objects.filter(batch=batch, claimed_by__isnull=True).order_by("number")
            .values_list("number", flat=True).first())


def member_claim_entries(*, member: Member, limit: int = 5) -> list[LedgerEntry]:
    """The member's latest claim-code earns, newest first, each with its code and batch."""
    return list(LedgerEntry.objects.filter(account__member=member, channel=LedgerEntry.Channel.CLAIM_CODE,
                                           kind=LedgerEntry.Kind.EARN)
                .select_related("account__currency", "claim_code__batch").order_by("-id")[:limit])


def member_claim_entry(*, member: Member, entry_id) -> LedgerEntry | None:
    """One of the member's claim-code earns (None for anything else: another member's, another channel)."""
    try:
        entry_id = int(entry_id)
    except (TypeError, ValueError):
        return None
    return (LedgerEntry.objects.filter(pk=entry_id, account__member=member, channel=LedgerEntry.Channel.CLAIM_CODE)
            .select_related("account__currency", "claim_code__batch").first())
