"""Template tags of coupon promotions: the flash-reward strip and a coupon's value and conditions.

``{% load coupon_offers %}`` on the portal's rewards and coupons pages and on the cashier page.
"""

from django import template

from ..selectors import flash_offers_for_member
from ..terms import coupon_terms

register = template.Library()


def countdown(seconds: int) -> str:
    """``93784`` → ``1d 02:03:04``; under a day ``02:03:04``."""
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


@register.inclusion_tag("coupon_campaigns/_flash.html")
def flash_offers(brand, member, link_offers=True):
    """The current flash rewards, with countdown and stock left (nothing when there are none)."""
    offers = flash_offers_for_member(member=member)
    return {"brand": brand, "member": member, "link_offers": link_offers,
            "offers": [(offer, countdown(offer.seconds_left)) for offer in offers]}


@register.simple_tag
def coupon_terms_text(reward, language="th"):
    """``50 THB off · Minimum spend 500 THB · Only at: Siam``."""
    return str(coupon_terms(reward, language))
