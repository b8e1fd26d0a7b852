"""The member's claim page (LIFF): type or scan a printed code, get the points.

GET ``?code=`` fills the form (a label's QR holds that URL, so the phone camera opens the
page ready to claim) but never claims: claiming is a POST with a per-form ``request_id``.
A successful claim redirects to ``?claimed=<entry>`` so a reload claims nothing.
"""

import uuid
from datetime import timedelta

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.domain import DomainError
from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .codes import code_display, code_is_well_formed, code_normalise
from .errors import ClaimRateLimited
from .services import claim_form_submit

JUST_NOW = timedelta(minutes=2)


def _shown(raw: str) -> str:
    """What the form shows back: a recognisable code as XXXX-XXXX-XXXX-XXXX (also out of a scanned URL)."""
    normalised = code_normalise(raw)
    return code_display(normalised) if code_is_well_formed(normalised) else raw.strip()


@require_http_methods(["GET", "POST"])
@member_page("claim")
def claim_page(request, brand: Brand, member: Member):
    code = request.GET.get("code", "")[:200]
    error, error_code, retry_at = "", "", None
    if request.method == "POST":
        code = request.POST.get("code", "")[:500]
        try:
            request_id = str(uuid.UUID(request.POST.get("request_id", "")))
        except ValueError:
            error, error_code = _("Please try again."), "bad_request"
        else:
            try:
                entry = claim_form_submit(member=member, code=code, request_id=request_id)
            except DomainError as domain_error:
                error, error_code = str(domain_error.message), domain_error.code
                if isinstance(domain_error, ClaimRateLimited):
                    retry_at = domain_error.context.get("retry_at")
            else:
                return redirect(f"{reverse('liff:claim', args=[brand.slug])}?claimed={entry.pk}")
    claimed = selectors.member_claim_entry(member=member, entry_id=request.GET.get("claimed"))
    context = _context(
        request, brand, member, "claim", code=_shown(code), error=error, error_code=error_code, retry_at=retry_at,
        claimed=claimed, claimed_earlier=bool(claimed and claimed.created_at < timezone.now() - JUST_NOW),
        request_id=uuid.uuid4(), recent=selectors.member_claim_entries(member=member),
    )
    return render(request, "claims/claim.html", context, status=422 if error else 200)
