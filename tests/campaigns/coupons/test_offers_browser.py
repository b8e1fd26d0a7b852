"""The LIFF offers page in a phone-sized Chromium (LIFF mock): a flash reward ticks down, is redeemed,
its stock falls and the coupon shows its value and conditions."""

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from loyalty.models import Coupon, Reward
from tests import factories
from tests.browser.portal_helpers import liff_sign_in, shot
from tests.browser.test_portal import (  # noqa: F401 - fixtures shared with the portal tests
    MEMBER_USER,
    _portal_settings,
    assert_stayed_local,
    consents,
    make_active_member,
    phone,
    portal_brand,
)


def test_a_member_redeems_a_flash_reward_from_the_offers_page(phone, fake_line, portal_brand,  # noqa: F811
                                                               consents):  # noqa: F811
    now = timezone.now()
    flash = factories.RewardFactory(
        brand=portal_brand, name="ลาเต้ลดครึ่งราคา", name_en="Half-price latte", points_cost=50, stock=7,
        is_flash=True, coupon_kind="percent_off", coupon_value=Decimal("50"), percent_cap_thb=Decimal("60"),
        min_spend_thb=Decimal("100"), starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2))
    member = make_active_member(portal_brand, consents, language="en")
    factories.give_points(member, 120, key="seed")
    page = phone.page

    liff_sign_in(phone, fake_line, portal_brand, MEMBER_USER, path="offers/")
    card = page.get_by_test_id(f"flash-{flash.pk}")
    expect(card).to_contain_text("Half-price latte")
    expect(card.get_by_test_id("flash-terms")).to_have_text("50% off, up to 60 THB · Minimum spend 100 THB")
    expect(card.get_by_test_id("stock-left")).to_have_text("7 left")
    countdown = card.get_by_test_id("countdown")
    expect(countdown).to_have_text(re.compile(r"^0[12]:\d\d:\d\d$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks in the page
    shot(page, "offers-flash")

    card.get_by_role("link", name="Redeem").click()
    expect(page).to_have_url(re.compile(rf"/rewards/{flash.pk}/redeem/$"))
    page.get_by_role("button", name="Yes, redeem").click()
    expect(page).to_have_url(re.compile(r"/liff/cafe/coupons/\?new=\w+$"))
    coupon = Coupon.objects.get(member=member, reward=flash)
    coupon_card = page.get_by_test_id(f"coupon-{coupon.code}")
    expect(coupon_card.get_by_test_id("coupon-terms")).to_have_text("50% off, up to 60 THB · Minimum spend 100 THB")
    shot(page, "offers-flash-coupon")

    page.goto(f"/liff/{portal_brand.slug}/offers/")
    expect(page.get_by_test_id(f"flash-{flash.pk}").get_by_test_id("stock-left")).to_have_text("6 left")
    # 70 points left, the reward costs 50: one more is possible; the rewards page shows it on top too.
    page.goto(f"/liff/{portal_brand.slug}/rewards/")
    expect(page.get_by_test_id("flash-offers")).to_be_visible()
    assert Reward.objects.get(pk=flash.pk).stock == 6
    assert_stayed_local(phone)
