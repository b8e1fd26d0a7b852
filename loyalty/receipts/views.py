"""The member's receipt page in the LIFF portal: upload a photo, see each receipt's status.

Thin: the portal's ``member_page`` finds the member from the session; ``receipt_upload``
does every check and write; OCR runs in the Celery task, never here.
"""

import uuid

from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from config.domain import DomainError
from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .images import MAX_UPLOAD_BYTES
from .models import Receipt
from .services import receipt_upload


def status_text(receipt: Receipt) -> str:
    Status = Receipt.Status
    if receipt.status in (Status.QUEUED, Status.PROCESSING):
        return _("Reading your receipt…")
    if receipt.status == Status.NEEDS_REVIEW:
        return _("Received: our staff will check it soon.")
    if receipt.status == Status.APPROVED:
        points = receipt.purchase.points_earned if receipt.purchase else 0
        return _("Approved: you earned %(points)s points.") % {"points": f"{points:,}"}
    return _("Not accepted")


def reason_text(receipt: Receipt) -> str:
    """Why a receipt was rejected, in the member's words."""
    if receipt.status != Receipt.Status.REJECTED:
        return ""
    if receipt.duplicate_of_id:
        return _("This receipt was already uploaded.")
    return receipt.reason


def _rows(member: Member) -> list[dict]:
    return [{"receipt": receipt, "status": status_text(receipt), "reason": reason_text(receipt),
             "pending": receipt.status in (Receipt.Status.QUEUED, Receipt.Status.PROCESSING)}
            for receipt in selectors.receipts_for_member(member=member)]


@require_http_methods(["GET", "POST"])
@member_page("receipts")
def receipts_page(request, brand: Brand, member: Member):
    error = ""
    if request.method == "POST":
        try:
            receipt = receipt_upload(member=member, upload=request.FILES.get("image"),
                                     upload_key=request.POST.get("upload_key", ""))
        except DomainError as domain_error:
            fields = [message for messages in domain_error.fields.values() for message in messages]
            error = str(domain_error.message) if not fields or domain_error.code != "validation_error" else \
                _("Please reload the page and try again.")
        else:
            return redirect(f"{reverse('liff:receipts', args=[brand.slug])}?uploaded={receipt.pk}")
    rows = _rows(member)
    uploaded = None
    if not error and request.GET.get("uploaded", "").isdigit():
        uploaded = next((row for row in rows if row["receipt"].pk == int(request.GET["uploaded"])), None)
    context = _context(request, brand, member, "receipts", rows=rows, error=error, uploaded=uploaded,
                       upload_key=uuid.uuid4(), max_megabytes=MAX_UPLOAD_BYTES // (1024 * 1024),
                       in_progress=any(row["pending"] for row in rows))
    return render(request, "receipts/receipts.html", context, status=400 if error else 200)


@require_GET
@member_page("receipts")
def receipts_status(request, brand: Brand, member: Member):
    """For the page's polling while a receipt is being read."""
    rows = _rows(member)
    response = JsonResponse({"in_progress": any(row["pending"] for row in rows),
                             "receipts": [{"id": row["receipt"].pk, "status": row["receipt"].status} for row in rows]})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@member_page("receipts")
def receipt_image(request, brand: Brand, member: Member, receipt_id: int):
    """The member's own receipt photo (never another member's: receipts are personal data)."""
    receipt = selectors.receipt_for_member(member=member, receipt_id=receipt_id)
    if receipt is None or not receipt.image:
        raise Http404
    response = FileResponse(receipt.image.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
