"""Who may call the API and for which brand.

A machine calls with an API key (brand, optionally branch, fixed by the key). A staff
user calls with a session and names the brand with the ``X-Brand`` header or ``brand``
query parameter (optional when they have exactly one brand). Either way the view reads
``brand_for_request(request)``, never a brand id from the body.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

from members.models import ApiKey, Brand, StaffAssignment
from members.selectors import brands_for_user, staff_role


class IsBrandClient(permissions.BasePermission):
    message = _("An API key or a staff session is required.")

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        return bool(user is not None and user.is_authenticated and user.is_staff)


def staff_may_write(request, brand: Brand) -> None:
    """Staff sessions write through the API only as managers of the brand (cashiers use their page)."""
    if isinstance(request.auth, ApiKey) or request.method in permissions.SAFE_METHODS:
        return
    if staff_role(user=request.user, brand=brand) != StaffAssignment.Role.MANAGER:
        raise exceptions.PermissionDenied(_("Only the brand's managers can do this with a staff login."))


def brand_for_request(request) -> Brand:
    if isinstance(request.auth, ApiKey):
        return request.auth.brand
    brands = brands_for_user(request.user)
    slug = request.headers.get("X-Brand") or request.query_params.get("brand")
    if slug:
        brand = brands.filter(slug=slug).first()
        if brand is None:
            raise exceptions.PermissionDenied(_("You have no access to this brand."))
    else:
        only = list(brands[:2])
        if len(only) != 1:
            raise exceptions.ValidationError({"brand": [_("Name the brand with the X-Brand header.")]})
        brand = only[0]
    staff_may_write(request, brand)
    return brand
