"""Domain errors of coupon promotions (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict


class CouponRuleStateInvalid(Conflict):
    code = "coupon_rule_state_invalid"
    message = _("This coupon promotion cannot move to that status from its current one.")
