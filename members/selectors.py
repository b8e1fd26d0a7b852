"""Reads for members, brands and staff scoping. Every selector takes the brand or user."""

from django.db.models import QuerySet

from .errors import BranchNotFound, MemberNotFound
from .models import Branch, Brand, Member, StaffAssignment


def brands_for_user(user) -> QuerySet[Brand]:
    """Brands a staff user may see: all for superusers, assigned ones otherwise."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Brand.objects.none()
    if user.is_superuser:
        return Brand.objects.all()
    return Brand.objects.filter(staff_assignments__user=user).distinct()


def brand_ids_for_user(user) -> list[int]:
    return list(brands_for_user(user).values_list("id", flat=True))


def staff_role(*, user, brand: Brand) -> str | None:
    if user.is_superuser:
        return StaffAssignment.Role.MANAGER
    return StaffAssignment.objects.filter(user=user, brand=brand).values_list("role", flat=True).first()


def member_find(*, brand: Brand, code: str | None = None, phone: str | None = None,
                line_user_id: str | None = None) -> Member:
    """The brand's member identified by exactly one of code, E.164 phone or LINE user id."""
    filters = {}
    if code:
        filters["code"] = code.strip().upper()
    elif phone:
        filters["phone"] = phone
    elif line_user_id:
        filters["line_user_id"] = line_user_id
    else:
        raise MemberNotFound()
    member = Member.objects.filter(brand=brand, **filters).first()
    if member is None:
        raise MemberNotFound()
    return member


def branch_get(*, brand: Brand, code: str) -> Branch:
    branch = Branch.objects.filter(brand=brand, code=code, is_active=True).first()
    if branch is None:
        raise BranchNotFound(fields={"branch": [str(BranchNotFound.message)]})
    return branch
