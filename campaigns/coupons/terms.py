"""What a coupon is worth and where it can be used, in words, in the member's language.

Shared by the LIFF pages, the cashier page (template tags) and the LINE notices.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from loyalty.models import Reward


def money(amount: Decimal) -> str:
    """``1234.50`` → ``1,234.50``; whole baht without satang: ``500.00`` → ``500``."""
    text = f"{amount:,.2f}"
    return text[:-3] if text.endswith(".00") else text


@dataclass(frozen=True)
class CouponTerms:
    value: str
    conditions: list[str]

    def __str__(self) -> str:
        return " · ".join([self.value, *self.conditions])


def coupon_value(reward: Reward) -> str:
    if reward.coupon_kind == Reward.CouponKind.AMOUNT_OFF and reward.coupon_value:
        return _("%(amount)s THB off") % {"amount": money(reward.coupon_value)}
    if reward.coupon_kind == Reward.CouponKind.PERCENT_OFF and reward.coupon_value:
        percent = money(reward.coupon_value)
        if reward.percent_cap_thb is not None:
            return _("%(percent)s%% off, up to %(cap)s THB") % {"percent": percent, "cap": money(reward.percent_cap_thb)}
        return _("%(percent)s%% off") % {"percent": percent}
    if reward.value_thb:
        return _("Free item (worth %(amount)s THB)") % {"amount": money(reward.value_thb)}
    return _("Free item")


def coupon_terms(reward: Reward, language: str, branches=None) -> CouponTerms:
    """The value and the conditions (minimum spend, branches) of ``reward``'s coupon.

    ``branches``: the reward's branches when already loaded (else read here, one query).
    """
    with translation.override(language):
        conditions = []
        if reward.min_spend_thb:
            conditions.append(_("Minimum spend %(amount)s THB") % {"amount": money(reward.min_spend_thb)})
        names = [branch.name for branch in (reward.branches.all() if branches is None else branches)]
        if names:
            conditions.append(_("Only at: %(branches)s") % {"branches": ", ".join(sorted(names))})
        return CouponTerms(value=coupon_value(reward), conditions=conditions)
