"""The member portal's offers page (LIFF): current flash rewards and coupon promotions.

Thin: the portal's ``member_page`` finds the session's member; the selectors read.
"""

from django.shortcuts import render

from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .terms import coupon_terms, money


@member_page("rewards")
def offers(request, brand: Brand, member: Member):
    promotions = [{"rule": rule, "name": rule.label(member.language), "minimum": money(rule.min_spend_thb or 0),
                   "terms": coupon_terms(rule.reward, member.language, branches=list(rule.reward.branches.all()))}
                  for rule in selectors.coupon_rules_running(brand=brand)]
    has_flash = selectors.flash_rewards_current(brand=brand).exists()
    return render(request, "coupon_campaigns/offers.html", _context(request, brand, member, "rewards",
                                                                   promotions=promotions, has_flash=has_flash))
