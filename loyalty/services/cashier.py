"""The cashier page's actions: identify a member, award points for a sale, accept a coupon,
void an award. Each is recorded as a ``CashierAction`` with the cashier, branch and device time.

- Awards go through ``purchase_record`` (channel ``cashier``): the same bill number at the
  same branch can be awarded once; a double tap (same ``request_key``) returns the first action.
- A cashier voids their own award within ``CASHIER_VOID_WINDOW_MINUTES``; supervisors and
  managers any award of their brand at any time. A void is a full refund through the ledger.
- A coupon with a minimum spend is accepted only with the bill total, at or above the minimum
  (the same check as the POS API's ``bill_total``).
- Manual lookups (member code, phone) are rate-limited per cashier against enumeration.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound
from loyalty.errors import IdempotencyConflict
from loyalty.models import CashierAction, Coupon
from loyalty.models.rewards import normalise_coupon_code
from loyalty.selectors import coupon_lookup
from members.card import card_verify
from members.models import Branch, Member, StaffAssignment
from members.selectors import member_find, staff_role
from members.services import member_get_or_create_pending

from .earning import LineInput, purchase_record, purchase_refund
from .ledger import BANGKOK, Channel
from .redemption import coupon_use

LOOKUP_WINDOW_SECONDS = 600
SUPERVISING_ROLES = {StaffAssignment.Role.MANAGER, StaffAssignment.Role.SUPERVISOR}


class BillAlreadyAwarded(Conflict):
    code = "bill_already_awarded"
    message = _("Points for this bill number were already awarded at this branch.")


class AwardNotFound(NotFound):
    code = "award_not_found"
    message = _("No award with this ID at this brand.")


class NotYourAward(DomainError):
    code = "not_your_award"
    message = _("You can only void your own awards. Ask a supervisor.")


class VoidWindowPassed(DomainError):
    code = "void_window_passed"
    message = _("The time to void this award has passed. Ask a supervisor.")


class AlreadyVoided(Conflict):
    code = "already_voided"
    message = _("This award was already voided.")


class CouponBillTotalRequired(DomainError):
    code = "coupon_bill_total_required"
    message = _("Enter the bill total: this coupon needs a bill of at least %(minimum)s THB.")

    def __init__(self, *, minimum, **context):
        super().__init__(self.message % {"minimum": minimum}, minimum=minimum, **context)


class LookupRateLimited(DomainError):
    code = "lookup_rate_limited"
    message = _("Too many lookups. Please wait a few minutes or scan the member's QR code.")


def _by_request_key(branch: Branch, request_key: str) -> CashierAction | None:
    return CashierAction.objects.filter(brand_id=branch.brand_id, request_key=request_key).first()


def _count_manual_lookup(cashier) -> None:
    key = f"cashier-lookups:{cashier.pk}:{int(timezone.now().timestamp()) // LOOKUP_WINDOW_SECONDS}"
    cache.add(key, 0, LOOKUP_WINDOW_SECONDS)
    if cache.incr(key) > settings.CASHIER_LOOKUPS_PER_10_MINUTES:
        raise LookupRateLimited()


def cashier_lookup(*, cashier, branch: Branch, code: str = "", phone: str = "", qr: str = "",
                   device_time: datetime | None = None) -> tuple[Member, bool]:
    """The member a cashier identifies; an unknown phone becomes a pending member.

    Returns ``(member, created)``. A QR is the signed member card (``members.card``); codes
    and phones count against the cashier's lookup limit.
    """
    brand = branch.brand
    created = False
    if qr:
        member, how = card_verify(brand=brand, token=qr), "qr"
    else:
        _count_manual_lookup(cashier)
        if code:
            member, how = member_find(brand=brand, code=code), "code"
        else:
            member, created = member_get_or_create_pending(brand=brand, phone=phone)
            how = "phone"
    CashierAction.objects.create(brand=brand, branch=branch, cashier=cashier, kind=CashierAction.Kind.LOOKUP,
                                 member=member, device_time=device_time, details={"by": how, "created": created})
    return member, created


def cashier_award(*, cashier, branch: Branch, member: Member, amount: Decimal, bill_number: str = "",
                  items: list[LineInput] | None = None, request_key: str,
                  device_time: datetime | None = None) -> CashierAction:
    """Award points for a sale at ``branch``, once per bill number and once per submission."""
    existing = _by_request_key(branch, request_key)
    if existing is not None:
        return existing
    bill_number = bill_number.strip()
    order_id = f"{branch.code}/{bill_number}" if bill_number else f"{branch.code}/tap-{request_key}"
    try:
        with transaction.atomic():
            try:
                result = purchase_record(
                    brand=branch.brand, member=member, channel=Channel.CASHIER, order_id=order_id,
                    total=amount, lines=items or [LineInput(amount=amount)], purchased_at=timezone.now(),
                    branch=branch,
                )
            except IdempotencyConflict as error:
                raise BillAlreadyAwarded() from error
            if not result.created:
                raise BillAlreadyAwarded()
            return CashierAction.objects.create(
                brand=branch.brand, branch=branch, cashier=cashier, kind=CashierAction.Kind.AWARD, member=member,
                purchase=result.purchase, points=result.points_earned, amount=result.purchase.total,
                request_key=request_key, device_time=device_time, details={"bill": bill_number},
            )
    except (BillAlreadyAwarded, IntegrityError):
        existing = _by_request_key(branch, request_key)  # the same submission, committed by a twin request
        if existing is not None:
            return existing
        raise


def cashier_void(*, cashier, branch: Branch, award_id: int, request_key: str,
                 device_time: datetime | None = None) -> CashierAction:
    """Void an award: a full refund of its purchase through the ledger (locks the award row)."""
    existing = _by_request_key(branch, request_key)
    if existing is not None:
        return existing
    brand = branch.brand
    with transaction.atomic():
        award = (CashierAction.objects.select_for_update(of=("self",)).select_related("purchase")
                 .filter(pk=award_id, brand=brand, kind=CashierAction.Kind.AWARD).first())
        if award is None:
            raise AwardNotFound()
        if CashierAction.objects.filter(voids=award).exists():
            raise AlreadyVoided()
        if staff_role(user=cashier, brand=brand) not in SUPERVISING_ROLES:
            if award.cashier_id != cashier.pk:
                raise NotYourAward()
            if timezone.now() - award.created_at > timedelta(minutes=settings.CASHIER_VOID_WINDOW_MINUTES):
                raise VoidWindowPassed()
        refund = purchase_refund(brand=brand, purchase_id=award.purchase_id, refund_id=f"void-{award.pk}").refund
        return CashierAction.objects.create(
            brand=brand, branch=branch, cashier=cashier, kind=CashierAction.Kind.VOID, member=award.member,
            purchase=award.purchase, voids=award, points=-refund.points_reversed, amount=refund.amount,
            request_key=request_key, device_time=device_time,
            details={"points_shortfall": refund.points_shortfall},
        )


def cashier_coupon_accept(*, cashier, branch: Branch, code: str, request_key: str,
                          bill_total: Decimal | None = None, device_time: datetime | None = None) -> CashierAction:
    """Mark a coupon used at this branch, once; a double tap returns the first acceptance.

    A coupon whose reward has a minimum spend needs the ``bill_total`` (THB): without it
    ``CouponBillTotalRequired``, below the minimum ``CouponBelowMinimumSpend`` (from
    ``coupon_use``); either way nothing is written. The bill total is kept on the action.
    """
    existing = _by_request_key(branch, request_key)
    if existing is not None:
        return existing
    if bill_total is None:
        # The minimum is the reward's setting, not contended state: reading it first is safe.
        checked = coupon_lookup(brand=branch.brand, code=normalise_coupon_code(code))
        minimum = checked.reward.min_spend_thb if checked is not None else None
        if minimum and checked.status == Coupon.Status.ISSUED and (
                checked.expires_at is None or checked.expires_at > timezone.now()):
            raise CouponBillTotalRequired(minimum=minimum)  # a used or expired coupon: coupon_use says so
    details = {} if bill_total is None else {"bill_total": str(bill_total)}
    try:
        with transaction.atomic():
            coupon = coupon_use(brand=branch.brand, code=code, branch=branch, reference=f"cashier:{cashier.pk}",
                                bill_total=bill_total)
            return CashierAction.objects.create(
                brand=branch.brand, branch=branch, cashier=cashier, kind=CashierAction.Kind.COUPON,
                member=coupon.member, coupon=coupon, request_key=request_key, device_time=device_time,
                details={"reward": coupon.reward.name, **details},
            )
    except DomainError:
        existing = _by_request_key(branch, request_key)
        if existing is not None:
            return existing
        raise


def cashier_shift_summary(*, cashier, branch: Branch, now: datetime | None = None) -> dict:
    """Today's (Bangkok) awards, voids and coupons of this cashier at this branch."""
    now = timezone.localtime(now or timezone.now(), BANGKOK)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    actions = CashierAction.objects.filter(cashier=cashier, branch=branch, created_at__gte=start)
    Kind = CashierAction.Kind
    return actions.aggregate(
        awards=Count("pk", filter=Q(kind=Kind.AWARD)),
        award_points=Sum("points", filter=Q(kind=Kind.AWARD), default=0),
        award_amount=Sum("amount", filter=Q(kind=Kind.AWARD), default=Decimal("0.00")),
        voids=Count("pk", filter=Q(kind=Kind.VOID)),
        void_points=Sum("points", filter=Q(kind=Kind.VOID), default=0),
        coupons=Count("pk", filter=Q(kind=Kind.COUPON)),
    )
