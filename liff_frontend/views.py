"""LIFF endpoints. The member portal pages arrive with the portal issue; the session endpoint
is the identity seam they use: the page posts its LINE ID token, the server verifies it with
LINE and opens a Django session. A LINE user id sent by the browser is never trusted."""

import json
import logging

from django.contrib.auth import login
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members.models import Brand
from members.services import member_line_login
from messaging.client import LineError, verify_id_token

security_log = logging.getLogger("taem.security")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


@require_POST
def liff_session(request, brand_slug: str):
    """``POST {"id_token": "<liff.getIDToken()>"}`` → a Django session for that LINE user's member."""
    brand = get_object_or_404(Brand, slug=brand_slug, is_active=True)
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        payload = {}
    id_token = payload.get("id_token") if isinstance(payload, dict) else None
    if not id_token or not isinstance(id_token, str):
        return _error(400, "validation_error", _("An ID token is required."))
    if not brand.line_login_channel_id:
        return _error(503, "line_login_not_configured", _("This brand has no LINE Login channel yet."))
    try:
        claims = verify_id_token(id_token=id_token, channel_id=brand.line_login_channel_id)
    except LineError as error:
        security_log.warning("liff session refused brand=%s status=%s", brand.slug, error.status)
        if error.transient:
            return _error(503, "line_unavailable", _("LINE cannot be reached right now. Please try again."))
        return _error(401, "invalid_id_token", _("Your LINE login has expired. Please open the page again."))
    member = member_line_login(brand=brand, line_user_id=claims["sub"], display_name=claims.get("name", ""),
                               picture_url=claims.get("picture", ""))
    login(request, member.user, backend="django.contrib.auth.backends.ModelBackend")
    return JsonResponse({"member_code": member.code, "status": member.status,
                         "registered": member.status == member.Status.ACTIVE, "display_name": member.display_name})
