"""The cashier page, server side: scoping, awards once, void window, coupons, lookups."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import CashierAction, Coupon, PointAccount, Purchase
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from members.card import card_token
from members.models import Member, StaffAssignment
from tests import factories


@pytest.fixture
def shop(db):
    brand = factories.brand_with_program(slug="shop", name="Shop")
    second = factories.BranchFactory(brand=brand, code="SECOND")
    return brand, brand.branches.get(code="MAIN"), second


def make_cashier(brand, username="till", role=StaffAssignment.Role.CASHIER, branches=()):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=username, password="pw-for-tests")
    assignment = StaffAssignment.objects.create(user=user, brand=brand, role=role)
    assignment.branches.set(branches)
    return user


@pytest.fixture
def till(client, shop):
    brand, main, _second = shop
    user = make_cashier(brand, branches=[main])
    client.force_login(user)
    assert client.post("/cashier/branch/", {"branch": main.pk}).status_code == 302
    return user


def form(**values):
    return {"request_key": uuid.uuid4().hex, "device_time": timezone.now().isoformat(), **values}


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_cashier_picks_only_their_branches_and_sees_no_admin(client, shop):
    brand, main, second = shop
    other = factories.brand_with_program(slug="elsewhere", name="Elsewhere")
    user = make_cashier(brand, branches=[main])
    client.force_login(user)
    page = client.get("/cashier/branch/").content.decode()
    assert "MAIN" in page and "SECOND" not in page and "Elsewhere" not in page
    assert client.post("/cashier/branch/", {"branch": second.pk}).status_code == 200  # refused: stays on the form
    assert client.post("/cashier/branch/", {"branch": other.branches.get().pk}).status_code == 200
    assert client.get("/cashier/").status_code == 302  # no branch chosen yet
    assert client.get("/admin/").status_code == 302  # not staff: the admin sends them to its login


def test_identify_by_code_phone_and_qr(client, till, shop):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code.lower()))
    assert client.session["cashier_member_id"] == member.pk
    client.post("/cashier/identify/", form(phone="089-111-2222"))
    pending = Member.objects.get(brand=brand, phone="+66891112222")
    assert pending.status == Member.Status.PENDING and client.session["cashier_member_id"] == pending.pk
    client.post("/cashier/identify/", form(qr=card_token(member)))
    assert client.session["cashier_member_id"] == member.pk
    assert CashierAction.objects.filter(kind="lookup").count() == 3


def test_an_expired_or_tampered_member_qr_is_refused(client, till, shop, time_machine):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    token = card_token(member)
    time_machine.move_to(timezone.now() + timedelta(minutes=3))
    response = client.post("/cashier/identify/", form(qr=token), follow=True)
    assert any("expired" in m for m in messages_of(response))
    response = client.post("/cashier/identify/", form(qr=token[:-2] + "xx"), follow=True)
    assert any("not valid" in m for m in messages_of(response))
    assert "cashier_member_id" not in client.session


def test_manual_lookups_are_rate_limited(client, till, shop, settings):
    settings.CASHIER_LOOKUPS_PER_10_MINUTES = 3
    from django.core.cache import cache

    cache.clear()
    for _ in range(3):
        client.post("/cashier/identify/", form(code="NOPE1234"))
    response = client.post("/cashier/identify/", form(code="NOPE1234"), follow=True)
    assert any("Too many lookups" in m for m in messages_of(response))


def test_award_uses_the_earn_rules_and_a_bill_number_earns_once_per_branch(client, till, shop):
    brand, main, _ = shop
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code))
    assert client.get("/cashier/preview/?amount=260").json()["points"][0]["points"] == 10
    client.post("/cashier/award/", form(amount="260.00", bill_number="B-77"))
    again = client.post("/cashier/award/", form(amount="260.00", bill_number="B-77"), follow=True)
    assert any("already awarded" in m for m in messages_of(again))
    assert PointAccount.objects.get(member=member).balance == 10
    purchase = Purchase.objects.get()
    assert (purchase.channel, purchase.branch, purchase.order_id) == ("cashier", main, "MAIN/B-77")
    action = CashierAction.objects.get(kind="award")
    assert (action.cashier, action.branch, action.points) == (till, main, 10) and action.device_time


def test_a_double_tap_awards_once(client, till, shop):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code))
    tap = form(amount="100")
    client.post("/cashier/award/", tap)
    client.post("/cashier/award/", tap)
    assert CashierAction.objects.filter(kind="award").count() == 1
    assert PointAccount.objects.get(member=member).balance == 4


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "100000000"])
def test_bad_amounts_write_nothing(client, till, shop, amount):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code))
    response = client.post("/cashier/award/", form(amount=amount), follow=True)
    assert any("amount" in m.lower() for m in messages_of(response))
    assert not Purchase.objects.exists() and not CashierAction.objects.filter(kind="award").exists()


def test_a_cashier_voids_their_own_award_within_the_window_only(client, till, shop, time_machine, settings):
    brand, main, _ = shop
    settings.CASHIER_VOID_WINDOW_MINUTES = 30
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code))
    client.post("/cashier/award/", form(amount="500"))
    client.post("/cashier/award/", form(amount="250"))
    first, second = CashierAction.objects.filter(kind="award").order_by("pk")
    client.post(f"/cashier/void/{first.pk}/", form())
    assert PointAccount.objects.get(member=member).balance == 10
    assert CashierAction.objects.get(kind="void").voids == first
    again = client.post(f"/cashier/void/{first.pk}/", form(), follow=True)
    assert any("already voided" in m for m in messages_of(again))

    time_machine.move_to(timezone.now() + timedelta(minutes=31))
    late = client.post(f"/cashier/void/{second.pk}/", form(), follow=True)
    assert any("Ask a supervisor" in m for m in messages_of(late))
    assert PointAccount.objects.get(member=member).balance == 10

    supervisor = make_cashier(brand, username="boss", role=StaffAssignment.Role.SUPERVISOR)
    client.force_login(supervisor)
    client.post("/cashier/branch/", {"branch": main.pk})
    client.post(f"/cashier/void/{second.pk}/", form())
    assert PointAccount.objects.get(member=member).balance == 0
    assert ledger_mismatches() == []


def test_a_cashier_cannot_void_another_cashiers_award(client, shop):
    brand, main, _ = shop
    member = factories.MemberFactory(brand=brand)
    alice, bob = make_cashier(brand, "alice", branches=[main]), make_cashier(brand, "bob", branches=[main])
    client.force_login(alice)
    client.post("/cashier/branch/", {"branch": main.pk})
    client.post("/cashier/identify/", form(code=member.code))
    client.post("/cashier/award/", form(amount="500"))
    award = CashierAction.objects.get(kind="award")
    client.force_login(bob)
    client.post("/cashier/branch/", {"branch": main.pk})
    response = client.post(f"/cashier/void/{award.pk}/", form(), follow=True)
    assert any("your own awards" in m for m in messages_of(response))
    assert PointAccount.objects.get(member=member).balance == 20


def test_accept_a_coupon_once_at_this_branch(client, till, shop):
    brand, main, _ = shop
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, name="Free cake", points_cost=10, value_thb=Decimal("80"))
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="r").redemption.coupon
    ok = client.post("/cashier/coupon/", form(code=coupon.display_code.lower()), follow=True)
    assert any("Free cake" in m and "80" in m for m in messages_of(ok))
    coupon.refresh_from_db()
    assert (coupon.status, coupon.used_branch) == (Coupon.Status.USED, main)
    second = client.post("/cashier/coupon/", form(code=coupon.code), follow=True)
    assert any("already been used" in m for m in messages_of(second))
    assert CashierAction.objects.filter(kind="coupon").count() == 1


def test_another_brands_coupon_is_not_found(client, till, shop):
    other = factories.brand_with_program(slug="other-shop", name="Other")
    member = factories.MemberFactory(brand=other)
    reward = factories.RewardFactory(brand=other, points_cost=10)
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=other, member=member, reward_id=reward.pk, request_id="r").redemption.coupon
    response = client.post("/cashier/coupon/", form(code=coupon.code), follow=True)
    assert any("No coupon" in m for m in messages_of(response))
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


def test_shift_summary_counts_todays_actions(client, till, shop):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    client.post("/cashier/identify/", form(code=member.code))
    client.post("/cashier/award/", form(amount="500"))
    client.post("/cashier/award/", form(amount="100"))
    award = CashierAction.objects.filter(kind="award").first()
    client.post(f"/cashier/void/{award.pk}/", form())
    page = client.get("/cashier/").content.decode()
    assert "2 awards (24 points, 600.00 THB) · 1 voids · 0 coupons" in page


def test_checking_a_coupon_shows_its_worth_and_state_and_uses_nothing(client, till, shop):
    brand, *_ = shop
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, name="Free cake", points_cost=10, value_thb=Decimal("80"))
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="r").redemption.coupon
    page = client.post("/cashier/coupon/check/", form(code=coupon.display_code), follow=True).content.decode()
    assert "Free cake" in page and "worth 80.00 THB" in page and "Valid" in page
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    client.post("/cashier/coupon/", form(code=coupon.code))
    page = client.post("/cashier/coupon/check/", form(code=coupon.code), follow=True).content.decode()
    assert "Already used" in page
    missing = client.post("/cashier/coupon/check/", form(code="NOPE"), follow=True)
    assert any("No coupon" in m for m in messages_of(missing))


def minimum_spend_coupon(brand, request_id="r", minimum="300"):
    member = factories.MemberFactory(brand=brand)
    reward = factories.RewardFactory(brand=brand, name="50 off", points_cost=10, value_thb=Decimal("50"),
                                     min_spend_thb=Decimal(minimum))
    factories.give_points(member, 10, key=f"seed-{request_id}")
    return reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id=request_id).redemption.coupon


def test_a_coupon_with_a_minimum_spend_is_used_only_with_a_bill_total_at_or_above_it(client, till, shop):
    brand, main, _ = shop
    coupon = minimum_spend_coupon(brand)
    page = client.post("/cashier/coupon/check/", form(code=coupon.code), follow=True).content.decode()
    assert 'name="bill_total"' in page and "Bill total (THB)" in page
    assert "This coupon needs a bill of at least 300.00 THB." in page

    def refused(response, text):
        assert any(text in m for m in messages_of(response)), messages_of(response)
        coupon.refresh_from_db()
        assert (coupon.status, coupon.used_branch) == (Coupon.Status.ISSUED, None)
        assert not CashierAction.objects.filter(kind="coupon").exists()
        assert 'name="bill_total"' in response.content.decode()  # still on the page, to correct the total

    refused(client.post("/cashier/coupon/", form(code=coupon.code), follow=True),
            "Enter the bill total: this coupon needs a bill of at least 300.00 THB.")
    refused(client.post("/cashier/coupon/", form(code=coupon.code, bill_total="299.99"), follow=True),
            "This coupon needs a bill of at least 300.00 THB.")
    refused(client.post("/cashier/coupon/", form(code=coupon.code, bill_total="299.99"), follow=True,
                        headers={"Accept-Language": "th"}),
            "คูปองนี้ใช้ได้เมื่อยอดบิลอย่างน้อย 300.00 บาท")
    for bad in ("abc", "-1", "0"):
        refused(client.post("/cashier/coupon/", form(code=coupon.code, bill_total=bad), follow=True),
                "Enter the bill total in baht.")

    used = client.post("/cashier/coupon/", form(code=coupon.code, bill_total="1,300.00"), follow=True)
    assert any("Coupon accepted: 50 off" in m for m in messages_of(used))
    coupon.refresh_from_db()
    assert (coupon.status, coupon.used_branch) == (Coupon.Status.USED, main)
    action = CashierAction.objects.get(kind="coupon")
    assert action.details == {"reward": "50 off", "bill_total": "1300.00"}
    assert 'name="bill_total"' not in used.content.decode()  # the checked coupon is cleared


def test_the_bill_total_is_asked_only_for_a_coupon_that_can_still_be_used_with_a_minimum(client, till, shop):
    from loyalty.errors import CouponAlreadyUsed, CouponBelowMinimumSpend
    from loyalty.services.cashier import CouponBillTotalRequired, cashier_coupon_accept

    brand, main, _ = shop
    plain = factories.RewardFactory(brand=brand, name="Free cake", points_cost=10)
    member = factories.MemberFactory(brand=brand)
    factories.give_points(member, 10, key="seed")
    cake = reward_redeem(brand=brand, member=member, reward_id=plain.pk, request_id="cake").redemption.coupon
    page = client.post("/cashier/coupon/check/", form(code=cake.code), follow=True).content.decode()
    assert "Use coupon" in page and 'name="bill_total"' not in page  # no minimum: nothing to ask

    coupon = minimum_spend_coupon(brand, request_id="min")
    accept = {"cashier": till, "branch": main, "code": coupon.code}
    with pytest.raises(CouponBillTotalRequired) as required:
        cashier_coupon_accept(**accept, request_key="k1")
    assert required.value.context == {"minimum": Decimal("300.00")}
    with pytest.raises(CouponBelowMinimumSpend):
        cashier_coupon_accept(**accept, request_key="k2", bill_total=Decimal("299.99"))
    assert not CashierAction.objects.filter(kind="coupon").exists()
    first = cashier_coupon_accept(**accept, request_key="k3", bill_total=Decimal("300.00"))
    assert cashier_coupon_accept(**accept, request_key="k3") == first  # a double tap: the first acceptance
    with pytest.raises(CouponAlreadyUsed):  # used: said so, not "enter the bill total"
        cashier_coupon_accept(**accept, request_key="k4")
    assert CashierAction.objects.filter(kind="coupon").count() == 1
