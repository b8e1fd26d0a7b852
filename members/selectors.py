"""Reads for members, brands and staff scoping. Every selector takes the brand or user."""

from django.db.models import QuerySet

from config.rows import Rows

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


# Each identifier is unique per brand (a constraint), so each finds at most one member. Compiled once:
# every POS, e-commerce and cashier request looks a member up.
_MEMBER_BY = {name: Rows(Member, where=f't.brand_id = %s AND t."{name}" = %s')
              for name in ("code", "phone", "line_user_id")}
_ACTIVE_BRANCH = Rows(Branch, where="t.brand_id = %s AND t.code = %s AND t.is_active")
# A POS purchase names its member and its branch: both in one query.
_MEMBER_AT_BRANCH = {name: Rows(Member, where=f't.brand_id = %s AND t."{name}" = %s',
                                also=(Branch, "j.brand_id = t.brand_id AND j.code = %s AND j.is_active"))
                     for name in ("code", "line_user_id")}


def _identifier(code: str | None, phone: str | None, line_user_id: str | None) -> tuple[str, str] | None:
    """``(column, value)`` of the first identifier given (a code is matched upper-cased), or None."""
    if code:
        return "code", code.strip().upper()
    if phone:
        return "phone", phone
    if line_user_id:
        return "line_user_id", line_user_id
    return None


def member_find(*, brand: Brand, code: str | None = None, phone: str | None = None,
                line_user_id: str | None = None) -> Member:
    """The brand's member identified by exactly one of code, E.164 phone or LINE user id."""
    identifier = _identifier(code, phone, line_user_id)
    if identifier is None:
        raise MemberNotFound()
    name, value = identifier
    member = _MEMBER_BY[name].first([brand.pk, value])
    if member is None:
        raise MemberNotFound()
    return member


def member_and_branch(*, brand: Brand, branch_code: str, code: str | None = None,
                      line_user_id: str | None = None) -> tuple[Member | None, Branch | None]:
    """``member_find`` (by code or LINE user id) and ``branch_get`` in one query. Raises nothing:
    ``(None, None)`` when no such member (the branch is then not known either), ``(member, None)``
    when the branch is unknown or inactive; the caller asks the single selectors for their errors."""
    identifier = _identifier(code, None, line_user_id)
    if identifier is None:
        return None, None
    name, value = identifier
    found = _MEMBER_AT_BRANCH[name].pair([branch_code, brand.pk, value])
    return found if found is not None else (None, None)


def branch_get(*, brand: Brand, code: str) -> Branch:
    branch = _ACTIVE_BRANCH.first([brand.pk, code])
    if branch is None:
        raise BranchNotFound(fields={"branch": [str(BranchNotFound.message)]})
    return branch
