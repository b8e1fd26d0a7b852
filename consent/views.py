"""The member's privacy centre in the portal (LIFF): consents, their history, own data, erasure.

Thin: the portal's ``member_page`` finds the session's member (never an id from the
browser); services write. These pages stay reachable while a new required version waits
for the member's acceptance (``allow_missing_consent``): the right to see, withdraw, export
and erase does not depend on accepting new terms. Every POST redirects or answers a file.
"""

import json

from django.contrib.auth import logout
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.domain import DomainError
from liff_frontend.portal import _context, member_page
from members.data_export import member_data_export
from members.erasure import member_erase
from members.models import Brand, Member

from .models import ConsentRecord, PersonalDataAccess
from .selectors import member_consent_overview
from .services import consent_change, personal_data_access_record


def _client(request) -> tuple[str | None, str]:
    return request.META.get("REMOTE_ADDR"), request.headers.get("User-Agent", "")[:500]


@require_http_methods(["GET", "POST"])
@member_page("profile", allow_missing_consent=True)
def consent_centre(request, brand: Brand, member: Member):
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        document_id = request.POST.get("document", "")
        if action in ("grant", "withdraw") and document_id.isdigit():
            ip, agent = _client(request)
            try:
                consent_change(member=member, document_id=int(document_id), granted=action == "grant",
                               channel=ConsentRecord.Channel.LIFF, ip=ip, user_agent=agent)
            except DomainError as domain_error:
                error = str(domain_error.message)
            else:
                return redirect(f"{reverse('liff:privacy:centre', args=[brand.slug])}?saved={action}")
        else:
            error = _("Please try again.")
    rows = member_consent_overview(member=member, history_limit=5)
    return render(request, "consent/centre.html", _context(
        request, brand, member, "profile", rows=rows, error=error, saved=request.GET.get("saved", "")),
        status=400 if error else 200)


@member_page("profile", allow_missing_consent=True)
def consent_document(request, brand: Brand, member: Member, document_id: int):
    row = next((row for row in member_consent_overview(member=member, history_limit=100)
                if row.document.pk == document_id), None)
    if row is None:
        raise Http404
    return render(request, "consent/document.html", _context(request, brand, member, "profile", row=row))


@require_http_methods(["GET", "POST"])
@member_page("profile", allow_missing_consent=True)
def my_data(request, brand: Brand, member: Member):
    """GET: what the download contains; POST: the JSON file (audited as the member's own access)."""
    if request.method == "POST":
        ip, _agent = _client(request)
        personal_data_access_record(member=member, action=PersonalDataAccess.Action.EXPORT,
                                    channel=PersonalDataAccess.Channel.MEMBER, ip=ip)
        data = member_data_export(member=member)
        body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        stamp = timezone.localtime().strftime("%Y%m%d")
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{brand.slug}-{member.code}-{stamp}.json"'
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "consent/my_data.html", _context(request, brand, member, "profile"))


@require_http_methods(["GET", "POST"])
@member_page("profile", allow_missing_consent=True)
def erase_account(request, brand: Brand, member: Member):
    """Close the membership and erase personal data, after the member types the confirmation word."""
    error = ""
    confirm_word = _("DELETE")
    if request.method == "POST":
        if request.POST.get("confirm", "").strip().upper() != str(confirm_word).upper():
            error = _("Type %(word)s to confirm.") % {"word": confirm_word}
        else:
            try:
                member_erase(member=member, reason=request.POST.get("reason", "")[:500], by_member=True)
            except DomainError as domain_error:
                error = str(domain_error.message)
            else:
                logout(request)
                return render(request, "consent/erased.html", _context(request, brand, None, "profile"))
    return render(request, "consent/erase.html", _context(request, brand, member, "profile", error=error,
                                                          confirm_word=confirm_word), status=400 if error else 200)
