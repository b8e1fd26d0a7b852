"""Coupon promotions: each trigger gives its coupon once, whatever is replayed."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from campaigns.coupons import services, tasks
from campaigns.coupons.errors import CouponRuleStateInvalid
from campaigns.coupons.models import CouponGrant, CouponRule
from campaigns.coupons.selectors import coupon_rule_results
from loyalty import events
from loyalty.models import Coupon, MemberTier, Reward, Tier
from loyalty.services.earning import purchase_refund
from loyalty.services.redemption import coupon_use
from messaging.models import OutboundMessage
from tests import factories

from .conftest import buy, coupon_rule, coupon_template

pytestmark = pytest.mark.django_db
BKK = ZoneInfo("Asia/Bangkok")


def record(member, total, capture, **kwargs):
    """A purchase through the earning service, with its events delivered as after a commit."""
    with capture(execute=True):
        return buy(member, total, **kwargs).purchase


# --- purchase trigger ---------------------------------------------------------------------


def test_a_purchase_of_500_gives_the_50_thb_coupon_and_a_line_notice(member, template,
                                                                       django_capture_on_commit_callbacks):
    rule = coupon_rule(member.brand, template)
    purchase = record(member, "500.00", django_capture_on_commit_callbacks, order_id="A-1")

    coupon = Coupon.objects.get(member=member)
    assert coupon.issue_key == f"couponrule:{rule.pk}:{purchase.pk}"
    assert (coupon.reward_id, coupon.status) == (template.pk, Coupon.Status.ISSUED)
    assert CouponGrant.objects.get(coupon=coupon).purchase_id == purchase.pk
    notice = OutboundMessage.objects.get(dedupe_key=f"couponrule:{rule.pk}:{purchase.pk}:notice")
    assert notice.template == "coupon_given" and notice.purpose == "transactional"
    bubble = str(notice.messages)
    assert "50 THB off" in bubble or "ส่วนลด 50 บาท" in bubble


def test_a_purchase_below_the_minimum_gives_nothing(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template)
    record(member, "499.99", django_capture_on_commit_callbacks, order_id="A-1")
    assert not Coupon.objects.exists()


def test_replayed_purchase_events_give_one_coupon(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template)
    purchase = record(member, "800.00", django_capture_on_commit_callbacks, order_id="A-1")
    record(member, "800.00", django_capture_on_commit_callbacks, order_id="A-1")  # the POS retries the order
    for _ in range(3):  # the event delivered again, the task retried
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.emit(events.PURCHASE_RECORDED, purchase_id=purchase.pk, member_id=member.pk)
        tasks.give_purchase_coupons(purchase.pk)
    assert Coupon.objects.filter(member=member).count() == 1
    assert CouponGrant.objects.count() == 1
    assert OutboundMessage.objects.filter(template="coupon_given").count() == 1


def test_once_per_purchase_gives_a_coupon_for_each_purchase(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template)
    record(member, "500.00", django_capture_on_commit_callbacks, order_id="A-1")
    record(member, "650.00", django_capture_on_commit_callbacks, order_id="A-2")
    assert Coupon.objects.filter(member=member).count() == 2


def test_once_per_member_per_month_counts_bangkok_months(member, template, django_capture_on_commit_callbacks):
    rule = coupon_rule(member.brand, template, limit=CouponRule.Limit.PER_MONTH)
    with time_machine.travel(datetime(2025, 7, 10, 12, tzinfo=BKK), tick=False):
        # 31 May 23:30 Bangkok is still May; 1 June 00:30 is June.
        record(member, "500", django_capture_on_commit_callbacks, order_id="M-1",
               at=datetime(2025, 5, 31, 23, 30, tzinfo=BKK))
        record(member, "900", django_capture_on_commit_callbacks, order_id="M-2",
               at=datetime(2025, 5, 2, 9, 0, tzinfo=BKK))
        record(member, "500", django_capture_on_commit_callbacks, order_id="J-1",
               at=datetime(2025, 6, 1, 0, 30, tzinfo=BKK))
    keys = sorted(Coupon.objects.filter(member=member).values_list("issue_key", flat=True))
    assert keys == [f"couponrule:{rule.pk}:{member.pk}:2025-05", f"couponrule:{rule.pk}:{member.pk}:2025-06"]


def test_branch_channel_tier_and_window_limit_the_purchase_trigger(member, template,
                                                                   django_capture_on_commit_callbacks):
    brand = member.brand
    main = brand.branches.get(code="MAIN")
    other = factories.BranchFactory(brand=brand, code="SIAM")
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=2)
    rule = coupon_rule(brand, template, channels=["pos"])
    rule.branches.set([main])
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-1", branch=other)
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-2", branch=main, channel="ecommerce")
    assert not Coupon.objects.exists()
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-3", branch=main)
    assert Coupon.objects.count() == 1

    rule.tiers.set([gold])
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-4", branch=main)
    assert Coupon.objects.count() == 1  # not gold
    MemberTier.objects.create(member=member, brand=brand, tier=gold)
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-5", branch=main)
    assert Coupon.objects.count() == 2

    CouponRule.objects.filter(pk=rule.pk).update(ends_at=timezone.now() - timedelta(hours=2),
                                                 starts_at=timezone.now() - timedelta(days=1))
    record(member, "600", django_capture_on_commit_callbacks, order_id="B-6", branch=main)
    assert Coupon.objects.count() == 2  # bought after the promotion ended


def test_paused_and_draft_rules_give_nothing(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template, status=CouponRule.Status.PAUSED)
    coupon_rule(member.brand, template, status=CouponRule.Status.DRAFT)
    record(member, "900", django_capture_on_commit_callbacks, order_id="P-1")
    assert not Coupon.objects.exists()


def test_out_of_stock_template_gives_nothing_and_the_purchase_stands(member, django_capture_on_commit_callbacks):
    template = coupon_template(member.brand, stock=1)
    coupon_rule(member.brand, template)
    first = record(member, "500", django_capture_on_commit_callbacks, order_id="S-1")
    second = record(member, "500", django_capture_on_commit_callbacks, order_id="S-2")
    assert Coupon.objects.count() == 1 and Reward.objects.get(pk=template.pk).stock == 0
    assert first.pk and second.pk and CouponGrant.objects.count() == 1


# --- refunds -------------------------------------------------------------------------------


def test_a_refund_below_the_minimum_cancels_the_unused_coupon(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template)
    purchase = record(member, "600", django_capture_on_commit_callbacks, order_id="R-1")
    with django_capture_on_commit_callbacks(execute=True):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("50"), refund_id="r1")
    assert Coupon.objects.get().status == Coupon.Status.ISSUED  # 550 THB still qualifies
    with django_capture_on_commit_callbacks(execute=True):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk, amount=Decimal("100"), refund_id="r2")
    assert Coupon.objects.get().status == Coupon.Status.CANCELLED  # 450 THB does not


def test_a_refund_never_takes_back_a_used_coupon(member, template, django_capture_on_commit_callbacks):
    coupon_rule(member.brand, template)
    purchase = record(member, "600", django_capture_on_commit_callbacks, order_id="R-1")
    coupon_use(brand=member.brand, code=Coupon.objects.get().code)
    with django_capture_on_commit_callbacks(execute=True):
        purchase_refund(brand=member.brand, purchase_id=purchase.pk, refund_id="r1")
    assert Coupon.objects.get().status == Coupon.Status.USED


# --- welcome -------------------------------------------------------------------------------


def test_welcome_coupon_once_per_member_under_replays(member, template, django_capture_on_commit_callbacks):
    rule = coupon_rule(member.brand, template, trigger="welcome", min_spend_thb=None)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.emit(events.MEMBER_REGISTERED, member_id=member.pk)
    coupon = Coupon.objects.get(member=member)
    assert coupon.issue_key == f"couponrule:{rule.pk}:{member.pk}"
    assert OutboundMessage.objects.filter(template="coupon_given").count() == 1


def test_welcome_coupon_skips_pending_members(brand, template, django_capture_on_commit_callbacks):
    pending = factories.MemberFactory(brand=brand, status="pending")
    coupon_rule(brand, template, trigger="welcome", min_spend_thb=None)
    assert services.welcome_coupons(member_id=pending.pk) == []
    assert not Coupon.objects.exists()


# --- birthday ------------------------------------------------------------------------------


def test_birthday_coupon_on_the_day_once_per_year(brand, template):
    rule = coupon_rule(brand, template, trigger="birthday", min_spend_thb=None)
    today_born = factories.MemberFactory(brand=brand, birth_date=date(1990, 3, 14))
    factories.MemberFactory(brand=brand, birth_date=date(1990, 3, 15))
    factories.MemberFactory(brand=brand, birth_date=None)
    # 08:10 Bangkok on 14 March is still 13 March in UTC: the Bangkok date decides.
    with time_machine.travel(datetime(2025, 3, 14, 8, 10, tzinfo=BKK), tick=False):
        assert tasks.issue_birthday_coupons() == 1
        assert tasks.issue_birthday_coupons() == 0  # the re-run finds nobody
        assert services.birthday_coupon(rule=rule, member_id=today_born.pk, year=2025).created is False
    coupon = Coupon.objects.get()
    assert (coupon.member_id, coupon.issue_key) == (today_born.pk, f"couponrule:{rule.pk}:{today_born.pk}:2025")
    with time_machine.travel(datetime(2026, 3, 14, 8, 10, tzinfo=BKK), tick=False):
        assert tasks.issue_birthday_coupons() == 1  # next year again
    assert Coupon.objects.count() == 2


def test_birth_month_coupon_any_day_of_the_month_once(brand, template):
    coupon_rule(brand, template, trigger="birthday", min_spend_thb=None,
                birthday_window=CouponRule.BirthdayWindow.BIRTH_MONTH)
    factories.MemberFactory(brand=brand, birth_date=date(1990, 3, 28))
    factories.MemberFactory(brand=brand, birth_date=date(1985, 3, 2))
    factories.MemberFactory(brand=brand, birth_date=date(1985, 4, 1))
    with time_machine.travel(datetime(2025, 3, 1, 8, 10, tzinfo=BKK), tick=False):
        assert tasks.issue_birthday_coupons() == 2
    with time_machine.travel(datetime(2025, 3, 2, 8, 10, tzinfo=BKK), tick=False):
        assert tasks.issue_birthday_coupons() == 0
    assert Coupon.objects.count() == 2


def test_leap_day_birthdays_get_theirs_on_28_february(brand, template):
    coupon_rule(brand, template, trigger="birthday", min_spend_thb=None)
    leap = factories.MemberFactory(brand=brand, birth_date=date(2000, 2, 29))
    assert tasks.issue_birthday_coupons(day="2025-02-28") == 1
    assert Coupon.objects.get().member_id == leap.pk


# --- staff: status and results ------------------------------------------------------------


def test_activate_pause_end_and_no_way_back_from_ended(brand, template):
    rule = coupon_rule(brand, template, status=CouponRule.Status.DRAFT)
    services.coupon_rule_set_status(rule=rule, status=CouponRule.Status.ACTIVE)
    services.coupon_rule_set_status(rule=rule, status=CouponRule.Status.PAUSED)
    with pytest.raises(CouponRuleStateInvalid):
        services.coupon_rule_set_status(rule=rule, status=CouponRule.Status.PAUSED)
    services.coupon_rule_set_status(rule=rule, status=CouponRule.Status.ENDED)
    with pytest.raises(CouponRuleStateInvalid):
        services.coupon_rule_set_status(rule=rule, status=CouponRule.Status.ACTIVE)
    assert CouponRule.objects.get(pk=rule.pk).status == CouponRule.Status.ENDED


def test_results_count_usage_and_compare_spend_of_users_and_non_users(brand, template,
                                                                      django_capture_on_commit_callbacks):
    rule = coupon_rule(brand, template, starts_at=timezone.now() - timedelta(days=3))
    users = [factories.MemberFactory(brand=brand) for _ in range(2)]
    others = [factories.MemberFactory(brand=brand) for _ in range(2)]
    for index, member in enumerate(users + others):
        record(member, "500", django_capture_on_commit_callbacks, order_id=f"X-{index}")
    for member in users:
        coupon_use(brand=brand, code=Coupon.objects.get(member=member).code)
        record(member, "250", django_capture_on_commit_callbacks, order_id=f"Y-{member.pk}")  # the visit it was used
    outsider = factories.MemberFactory(brand=brand)
    record(outsider, "100", django_capture_on_commit_callbacks, order_id="Z-1")  # no coupon: not counted

    results = coupon_rule_results(rule=rule)
    assert (results.issued, results.used, results.usage_rate) == (4, 2, Decimal("50.0"))
    assert (results.used_group.members, results.used_group.spend) == (2, Decimal("1500.00"))
    assert results.used_group.per_member == Decimal("750.00")
    assert (results.unused_group.members, results.unused_group.spend) == (2, Decimal("1000.00"))
    assert results.unused_group.per_member == Decimal("500.00")
