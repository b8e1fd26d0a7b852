from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound, ValidationFailed


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    message = _("Not enough points.")


class NoEarnRule(DomainError):
    code = "no_earn_rule"
    message = _("This brand has no active earn rule.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    message = _("This ID was already used for a different request.")


class PurchaseNotFound(NotFound):
    code = "purchase_not_found"
    message = _("No purchase with this ID.")


class PurchaseAlreadyRefunded(Conflict):
    code = "purchase_already_refunded"
    message = _("This purchase has already been fully refunded.")


class RefundExceedsTotal(ValidationFailed):
    code = "refund_exceeds_total"
    message = _("The refund is larger than what is left of the purchase.")


class RewardNotFound(NotFound):
    code = "reward_not_found"
    message = _("No reward with this ID.")


class RewardInactive(DomainError):
    code = "reward_inactive"
    message = _("This reward is not available now.")


class RewardOutOfStock(DomainError):
    code = "reward_out_of_stock"
    message = _("This reward is out of stock.")


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    message = _("No coupon with this code.")


class CouponAlreadyUsed(Conflict):
    code = "coupon_already_used"
    message = _("This coupon has already been used.")


class CouponExpired(DomainError):
    code = "coupon_expired"
    message = _("This coupon has expired.")


class CouponCancelled(DomainError):
    code = "coupon_cancelled"
    message = _("This coupon was cancelled.")


class RewardNotRedeemable(DomainError):
    code = "reward_not_redeemable"
    message = _("This reward is only given by campaigns and cannot be redeemed with points.")


class CouponNotValidAtBranch(DomainError):
    code = "coupon_wrong_branch"
    message = _("This coupon cannot be used at this branch.")


class CouponBelowMinimumSpend(DomainError):
    code = "coupon_below_minimum_spend"
    message = _("This coupon needs a bill of at least %(minimum)s THB.")

    def __init__(self, *, minimum, **context):
        super().__init__(self.message % {"minimum": minimum}, minimum=minimum, **context)
