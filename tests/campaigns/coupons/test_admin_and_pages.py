"""Coupon promotions in admin (scoped, activate/pause/end, results) and the portal pages (Django client)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from campaigns.coupons.models import CouponRule
from loyalty.models import Coupon, Reward
from loyalty.services.coupons import coupon_issue
from tests import factories

from .conftest import coupon_rule, coupon_template

pytestmark = pytest.mark.django_db


def brand_manager(brand, username="manager"):
    user = factories.staff_user(brands=[brand], username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="coupon_campaigns"))
    return user


# --- admin ---------------------------------------------------------------------------------


def test_staff_see_only_their_brands_promotions(client, brand, other_brand):
    mine = coupon_rule(brand, coupon_template(brand), name="ของเรา")
    coupon_rule(other_brand, coupon_template(other_brand), name="ของคนอื่น")
    client.force_login(brand_manager(brand))
    page = client.get("/admin/coupon_campaigns/couponrule/")
    assert page.status_code == 200
    assert "ของเรา" in page.content.decode() and "ของคนอื่น" not in page.content.decode()
    assert client.get(f"/admin/coupon_campaigns/couponrule/{mine.pk}/change/").status_code == 200


def test_admin_actions_activate_pause_and_end(client, brand):
    rule = coupon_rule(brand, coupon_template(brand), status=CouponRule.Status.DRAFT)
    client.force_login(brand_manager(brand))
    url = "/admin/coupon_campaigns/couponrule/"
    for action, expected in (("activate", "active"), ("pause", "paused"), ("activate", "active"), ("end", "ended")):
        client.post(url, {"action": action, "_selected_action": [rule.pk]})
        assert CouponRule.objects.get(pk=rule.pk).status == expected
    response = client.post(url, {"action": "activate", "_selected_action": [rule.pk]}, follow=True)
    assert "cannot move to that status" in response.content.decode()
    assert CouponRule.objects.get(pk=rule.pk).status == "ended"


def test_the_change_page_shows_the_results(client, member):
    brand = member.brand
    template = coupon_template(brand)
    rule = coupon_rule(brand, template, trigger="welcome", min_spend_thb=None)
    other = factories.MemberFactory(brand=brand)
    for someone in (member, other):
        coupon_issue(member=someone, reward=template, key=f"couponrule:{rule.pk}:{someone.pk}")
    from campaigns.coupons.models import CouponGrant

    for coupon in Coupon.objects.all():
        CouponGrant.objects.create(rule=rule, coupon=coupon, member=coupon.member)
    from loyalty.services.redemption import coupon_use

    coupon_use(brand=brand, code=Coupon.objects.get(member=member).code)
    client.force_login(brand_manager(brand))
    html = client.get(f"/admin/coupon_campaigns/couponrule/{rule.pk}/change/").content.decode()
    table = re.search(r'<table data-testid="coupon-rule-results">(.*?)</table>', html, re.S).group(1)
    assert "<th>Coupons issued</th><td>2</td>" in table
    assert "<th>Coupons used</th><td>1</td>" in table
    assert "<th>Usage rate</th><td>50.0%</td>" in table


def test_a_new_rule_must_use_its_brands_template_and_a_purchase_rule_a_minimum(client, brand, other_brand):
    client.force_login(factories.staff_user(brands=[brand], superuser=True, username="root"))
    foreign = coupon_template(other_brand)
    response = client.post("/admin/coupon_campaigns/couponrule/add/", {
        "brand": brand.pk, "name": "x", "trigger": "purchase", "reward": foreign.pk, "limit": "purchase",
        "birthday_window": "day"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "reward" in errors and "min_spend_thb" in errors
    assert not CouponRule.objects.exists()


def test_reward_form_refuses_a_flash_reward_without_end_or_stock_and_branches_of_another_brand(client, brand,
                                                                                              other_brand):
    client.force_login(factories.staff_user(brands=[brand], superuser=True, username="root"))
    foreign_branch = other_brand.branches.get(code="MAIN")
    response = client.post("/admin/loyalty/reward/add/", {
        "brand": brand.pk, "currency": brand.currencies.get(is_default=True).pk, "name": "Flash",
        "points_cost": 0, "redeemable": "on", "is_active": "on", "is_flash": "on", "coupon_valid_days": 30,
        "coupon_kind": "percent_off", "coupon_value": "150", "percent_cap_thb": "", "branches": [foreign_branch.pk]})
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"ends_at", "stock", "branches", "points_cost", "coupon_value"}
    assert not Reward.objects.exists()


def test_reward_form_saves_a_campaign_only_coupon_template(client, brand):
    client.force_login(factories.staff_user(brands=[brand], superuser=True, username="root"))
    main = brand.branches.get(code="MAIN")
    response = client.post("/admin/loyalty/reward/add/", {
        "brand": brand.pk, "currency": brand.currencies.get(is_default=True).pk, "name": "ลด 10%",
        "points_cost": 0, "is_active": "on", "coupon_valid_days": 30, "coupon_kind": "percent_off",
        "coupon_value": "10", "percent_cap_thb": "100", "min_spend_thb": "300", "branches": [main.pk]})
    assert response.status_code == 302, response.context["adminform"].form.errors
    reward = Reward.objects.get()
    assert (reward.redeemable, reward.points_cost, reward.coupon_value, list(reward.branches.all())) == (
        False, 0, Decimal("10.00"), [main])


# --- portal pages --------------------------------------------------------------------------


@pytest.fixture
def flash(portal_brand):
    now = timezone.now()
    return factories.RewardFactory(brand=portal_brand, name="ลาเต้ลดครึ่งราคา", name_en="Half-price latte",
                                   points_cost=50, stock=7, is_flash=True, coupon_kind="percent_off",
                                   coupon_value=Decimal("50"), percent_cap_thb=Decimal("60"),
                                   starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2, minutes=30))


def test_offers_page_lists_flash_rewards_with_countdown_stock_and_promotions(client, active_member, flash):
    brand = active_member.brand
    rule = coupon_rule(brand, coupon_template(brand))
    html = client.get(f"/liff/{brand.slug}/offers/").content.decode()
    assert 'data-testid="flash-offers"' in html and "Half-price latte" in html
    assert re.search(r'data-countdown="(\d+)"', html).group(1) in {str(s) for s in range(9000 - 60, 9001)}
    assert re.search(r'data-testid="countdown"[^>]*>(02:[23]\d:\d\d)<', html)
    assert '<span data-testid="stock-left">7 left</span>' in html
    assert "50% off, up to 60 THB" in html
    assert f'data-testid="promotion-{rule.pk}"' in html and "Spend 500 THB or more" in html


def test_rewards_page_puts_flash_on_top_and_hides_campaign_only_rewards(client, active_member, flash):
    brand = active_member.brand
    factories.RewardFactory(brand=brand, name="Cookie", points_cost=20)
    hidden = coupon_template(brand, name="Campaign only", name_en="Campaign only")
    html = client.get(f"/liff/{brand.slug}/rewards/").content.decode()
    assert html.index('data-testid="flash-offers"') < html.index("Cookie")
    assert f'data-testid="reward-{flash.pk}"' not in html  # shown once, in the flash strip
    assert "Campaign only" not in html and f"reward-{hidden.pk}" not in html


def test_flash_rewards_leave_the_offers_page_when_their_window_ends(client, active_member, flash):
    Reward.objects.filter(pk=flash.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    html = client.get(f"/liff/{active_member.brand.slug}/offers/").content.decode()
    assert "Half-price latte" not in html and 'data-testid="no-flash"' in html


def test_coupons_page_shows_value_and_conditions(client, active_member):
    brand = active_member.brand
    template = coupon_template(brand, min_spend_thb=Decimal("300"))
    coupon_issue(member=active_member, reward=template, key="welcome:test")
    html = client.get(f"/liff/{brand.slug}/coupons/").content.decode()
    assert "50 THB off · Minimum spend 300 THB" in html


def test_offers_page_asks_to_sign_in_without_a_session(client, portal_brand):
    response = client.get(f"/liff/{portal_brand.slug}/offers/")
    assert response.status_code == 200 and 'data-authenticated="0"' in response.content.decode()
