"""LINE messages of coupon promotions (Flex JSON), in the member's language."""

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from messaging.flex import _bubble, _button, _flex, _row, _text, liff_url

from .terms import coupon_terms


def coupon_given(member, rule, coupon) -> tuple[str, list[dict]]:
    """"You got a coupon": what it is, what it is worth, its conditions and validity, a button to show it."""
    with translation.override(member.language):
        reward = coupon.reward
        name = reward.name_en if member.language == "en" and reward.name_en else reward.name
        terms = coupon_terms(reward, member.language)
        text = _("%(promotion)s: you got a coupon for %(reward)s.") % {
            "promotion": rule.label(member.language), "reward": name}
        rows = [_text(text), _row(_("Value"), terms.value)]
        rows += [_text(condition, size="sm", color="#888888") for condition in terms.conditions]
        if coupon.expires_at:
            rows.append(_row(_("Valid until"), formats.date_format(timezone.localtime(coupon.expires_at), "j M Y")))
        return "coupon_given", [_flex(text, _bubble(_("A coupon for you"), rows, [
            _button(_("Show coupon"), uri=liff_url(member.brand, "coupons"))]))]
