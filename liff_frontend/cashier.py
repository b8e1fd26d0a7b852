"""The cashier page (``/cashier/``): one fast page for stores without a POS integration.

A cashier is a staff user with a ``StaffAssignment`` (cashier, supervisor or manager) for a
brand, limited to that assignment's branches (all the brand's branches when none are
listed). They sign in here, pick their branch once per shift, and see nothing else: no
admin (cashiers are not ``is_staff``), nothing of other brands. Every form carries a fresh
``request_key`` so a double tap does one thing; the services record each action.
"""

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.domain import DomainError
from loyalty.errors import CouponBelowMinimumSpend, CouponNotFound
from loyalty.models import CashierAction
from loyalty.models.rewards import normalise_coupon_code
from loyalty.selectors import coupon_lookup, member_balances
from loyalty.services.cashier import (
    CouponBillTotalRequired,
    cashier_award,
    cashier_coupon_accept,
    cashier_lookup,
    cashier_shift_summary,
    cashier_void,
)
from loyalty.services.earning import LineInput, points_preview
from members.models import Branch, Member, StaffAssignment

SESSION_BRANCH = "cashier_branch_id"
SESSION_MEMBER = "cashier_member_id"
MAX_AMOUNT = Decimal("10000000")


def cashier_branches(user):
    """Branches this user may work at, through their staff assignments."""
    if not user.is_authenticated:
        return Branch.objects.none()
    assignments = StaffAssignment.objects.filter(user=user).prefetch_related("branches")
    ids = set()
    for assignment in assignments:
        listed = [branch.pk for branch in assignment.branches.all()]
        ids.update(listed or Branch.objects.filter(brand=assignment.brand_id).values_list("pk", flat=True))
    return Branch.objects.filter(pk__in=ids, is_active=True, brand__is_active=True).select_related("brand")


def cashier_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"/cashier/login/?next={request.path}")
        branches = cashier_branches(request.user)
        branch = branches.filter(pk=request.session.get(SESSION_BRANCH)).first()
        if branch is None:
            return redirect("cashier:branch")
        return view(request, branch, *args, **kwargs)

    return wrapper


class CashierLoginView(auth_views.LoginView):
    template_name = "cashier/login.html"

    def get_success_url(self):
        return "/cashier/branch/"


def choose_branch(request):
    if not request.user.is_authenticated:
        return redirect("/cashier/login/")
    branches = list(cashier_branches(request.user))
    if request.method == "POST":
        chosen = next((b for b in branches if str(b.pk) == request.POST.get("branch")), None)
        if chosen is not None:
            request.session[SESSION_BRANCH] = chosen.pk
            request.session.pop(SESSION_MEMBER, None)
            return redirect("cashier:home")
    return render(request, "cashier/branch.html", {"branches": branches}, status=403 if not branches else 200)


def _device_time(request) -> datetime | None:
    raw = request.POST.get("device_time", "")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None


def _current_member(request, branch: Branch) -> Member | None:
    member_id = request.session.get(SESSION_MEMBER)
    return Member.objects.filter(pk=member_id, brand=branch.brand).first() if member_id else None


@cashier_page
def home(request, branch: Branch):
    member = _current_member(request, branch)
    balances = member_balances(member=member) if member is not None else []
    recent = (CashierAction.objects.filter(cashier=request.user, branch=branch)
              .exclude(kind=CashierAction.Kind.LOOKUP).select_related("member", "coupon__reward", "voids")
              .order_by("-created_at")[:15])
    voided_ids = set(CashierAction.objects.filter(voids__in=[a.pk for a in recent]).values_list("voids_id", flat=True))
    checked = coupon_lookup(brand=branch.brand, code=request.session.get(SESSION_COUPON, ""))
    return render(request, "cashier/home.html", {
        "branch": branch, "member": member, "checked_coupon": checked, "now": timezone.now(), "balances": balances, "recent": recent, "voided_ids": voided_ids,
        "summary": cashier_shift_summary(cashier=request.user, branch=branch), "request_key": uuid.uuid4().hex,
        "branches_count": cashier_branches(request.user).count(),
    })


@require_POST
@cashier_page
def identify(request, branch: Branch):
    try:
        member, created = cashier_lookup(cashier=request.user, branch=branch, code=request.POST.get("code", "").strip(),
                                         phone=request.POST.get("phone", "").strip(),
                                         qr=request.POST.get("qr", "").strip(), device_time=_device_time(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        request.session[SESSION_MEMBER] = member.pk
        if created:
            messages.success(request, _("New phone membership created for %(phone)s: the points wait for them "
                                        "until they register.") % {"phone": member.phone})
    return redirect("cashier:home")


@require_POST
@cashier_page
def clear_member(request, branch: Branch):
    request.session.pop(SESSION_MEMBER, None)
    return redirect("cashier:home")


def _amount(raw: str) -> Decimal | None:
    try:
        amount = Decimal(raw.replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return amount if Decimal("0") < amount <= MAX_AMOUNT else None


@cashier_page
def preview(request, branch: Branch):
    amount = _amount(request.GET.get("amount", ""))
    if amount is None:
        return JsonResponse({"error": {"code": "validation_error", "message": _("Enter an amount in baht."),
                                       "fields": {"amount": [_("Enter an amount in baht.")]}}}, status=400)
    return JsonResponse({"amount": str(amount), "points": [
        {"currency": currency.code, "name": currency.name, "points": points}
        for currency, points in points_preview(brand=branch.brand, total=amount, branch=branch)]})


@require_POST
@cashier_page
def award(request, branch: Branch):
    member = _current_member(request, branch)
    amount = _amount(request.POST.get("amount", ""))
    if member is None:
        messages.error(request, _("Identify the member first."))
    elif amount is None:
        messages.error(request, _("Enter an amount in baht."))
    else:
        items = [line.strip() for line in request.POST.get("items", "").splitlines() if line.strip()][:50]
        try:
            action = cashier_award(
                cashier=request.user, branch=branch, member=member, amount=amount,
                bill_number=request.POST.get("bill_number", "")[:60],
                items=[LineInput(amount=amount, sku=", ".join(items)[:100])],
                request_key=request.POST.get("request_key", "")[:64] or uuid.uuid4().hex,
                device_time=_device_time(request),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Awarded %(points)s points for %(amount)s THB.") % {
                "points": action.points, "amount": action.amount})
    return redirect("cashier:home")


SESSION_COUPON = "cashier_coupon_code"


@require_POST
@cashier_page
def coupon_check(request, branch: Branch):
    """A scanned or typed coupon: show what it is worth and whether it is valid, before using it."""
    code = normalise_coupon_code(request.POST.get("code", ""))
    if not coupon_lookup(brand=branch.brand, code=code):
        messages.error(request, CouponNotFound.message)
        request.session.pop(SESSION_COUPON, None)
    else:
        request.session[SESSION_COUPON] = code
    return redirect("cashier:home")


@require_POST
@cashier_page
def coupon(request, branch: Branch):
    """Use the checked coupon; one with a minimum spend comes with the bill total (``bill_total``, THB).

    A missing, invalid or too small bill total keeps the coupon on the page to correct it.
    """
    raw_total = request.POST.get("bill_total", "").strip()
    bill_total = _amount(raw_total) if raw_total else None
    if raw_total and bill_total is None:
        messages.error(request, _("Enter the bill total in baht."))
        return redirect("cashier:home")
    try:
        action = cashier_coupon_accept(cashier=request.user, branch=branch, code=request.POST.get("code", ""),
                                       request_key=request.POST.get("request_key", "")[:64] or uuid.uuid4().hex,
                                       bill_total=bill_total, device_time=_device_time(request))
    except (CouponBillTotalRequired, CouponBelowMinimumSpend) as error:
        messages.error(request, error.message)
    except DomainError as error:
        request.session.pop(SESSION_COUPON, None)
        messages.error(request, error.message)
    else:
        request.session.pop(SESSION_COUPON, None)
        worth = f" ({action.coupon.reward.value_thb} THB)" if action.coupon.reward.value_thb else ""
        messages.success(request, _("Coupon accepted: %(reward)s") % {"reward": action.coupon.reward.name} + worth)
    return redirect("cashier:home")


@require_POST
@cashier_page
def void(request, branch: Branch, award_id: int):
    try:
        action = cashier_void(cashier=request.user, branch=branch, award_id=award_id,
                              request_key=request.POST.get("request_key", "")[:64] or uuid.uuid4().hex,
                              device_time=_device_time(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Award voided: %(points)s points reversed.") % {"points": -action.points})
    return redirect("cashier:home")

