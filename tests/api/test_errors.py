"""Every error of the v1 API: its stable code, its HTTP status, the field it names, and
proof that the failed request wrote nothing (purchases, ledger, lots, redemptions,
coupons, stock, balances, members)."""

import re
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import (
    Coupon,
    LedgerEntry,
    PointAccount,
    PointLot,
    Purchase,
    PurchaseLine,
    PurchaseRefund,
    Redemption,
    Reward,
)
from loyalty.services.redemption import reward_redeem
from members.models import Member
from tests import factories
from tests.api.payloads import purchase_body

PURCHASES = "/api/v1/purchases/"
REDEMPTIONS = "/api/v1/redemptions/"
THAI = re.compile("[\u0e00-\u0e7f]")


def snapshot() -> dict:
    """Everything a v1 API call could write."""
    return {
        "members": list(Member.objects.order_by("pk").values_list("pk", "status", "phone")),
        "accounts": list(PointAccount.objects.order_by("pk").values_list("pk", "balance")),
        "entries": LedgerEntry.objects.count(),
        "lots": list(PointLot.objects.order_by("pk").values_list("pk", "remaining")),
        "purchases": list(Purchase.objects.order_by("pk").values_list("pk", "total", "refunded_total", "status")),
        "purchase_lines": PurchaseLine.objects.count(),
        "refunds": PurchaseRefund.objects.count(),
        "redemptions": Redemption.objects.count(),
        "coupons": list(
            Coupon.objects.order_by("pk").values_list("pk", "status", "used_at", "used_branch_id", "used_reference")
        ),
        "stock": list(Reward.objects.order_by("pk").values_list("pk", "stock")),
    }


@contextmanager
def writes_nothing():
    before = snapshot()
    yield
    assert snapshot() == before


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error




def redemption_body(member, reward, request_id="R-1") -> dict:
    return {"member": {"code": member.code}, "reward": reward.pk, "request_id": request_id}


def issued_coupon(brand, member, request_id="coupon-setup") -> Coupon:
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    factories.give_points(member, 10, key=f"for-{request_id}")
    return reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id=request_id).redemption.coupon


def recorded_purchase(pos_client, member, order_id="POS-1", total="1000.00") -> dict:
    response = pos_client.post(PURCHASES, purchase_body(member, order_id=order_id, total=total), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def refund_url(purchase_id) -> str:
    return f"{PURCHASES}{purchase_id}/refund/"


# --- authentication ------------------------------------------------------------------


ENDPOINTS = [
    ("get", "/api/v1/members/ABCDEFGH/"),
    ("get", "/api/v1/members/ABCDEFGH/ledger/"),
    ("get", "/api/v1/rewards/"),
    ("post", PURCHASES),
    ("post", "/api/v1/purchases/1/refund/"),
    ("post", REDEMPTIONS),
    ("get", "/api/v1/coupons/ABCD/"),
    ("post", "/api/v1/coupons/ABCD/use/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_without_credentials_is_401_not_authenticated(api_client, method, url):
    with writes_nothing():
        response = getattr(api_client, method)(url, {}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_unknown_api_key_is_401_authentication_failed_and_writes_nothing(api_client, brand, member):
    api_client.credentials(HTTP_AUTHORIZATION="Api-Key taem_this-key-was-never-issued")
    with writes_nothing():
        response = api_client.post(PURCHASES, purchase_body(member), format="json")
    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize("header", ["Api-Key", "Api-Key    "])
def test_api_key_keyword_without_a_key_is_401_authentication_failed(api_client, brand, member, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    with writes_nothing():
        response = api_client.post(PURCHASES, purchase_body(member), format="json")
    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "api-key"])
def test_a_key_under_another_scheme_is_not_read_and_is_401_not_authenticated(api_client, brand, member, scheme):
    _key, raw = factories.api_key(brand=brand)
    api_client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw}")
    with writes_nothing():
        response = api_client.post(PURCHASES, purchase_body(member), format="json")
    assert_error(response, 401, "not_authenticated")


def test_revoked_key_is_401_authentication_failed_and_writes_nothing(api_client, brand, member):
    key, raw = factories.api_key(brand=brand)
    key.revoked_at = timezone.now() - timedelta(seconds=1)
    key.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with writes_nothing():
        response = api_client.post(PURCHASES, purchase_body(member), format="json")
    assert_error(response, 401, "authentication_failed")


# --- validation of the purchase body ---------------------------------------------------


def test_missing_order_id_is_a_validation_error_naming_order_id(pos_client, member):
    body = purchase_body(member)
    del body["order_id"]
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["order_id"]


def test_blank_order_id_is_a_validation_error_naming_order_id(pos_client, member):
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, order_id="   "), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["order_id"]


@pytest.mark.parametrize("total", ["-0.01", "-100", "abc", "", "12.345", "NaN", "Infinity", "12345678901.00"])
def test_negative_or_malformed_total_is_a_validation_error_naming_total(pos_client, member, total):
    body = purchase_body(member)
    body["total"] = total
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["total"]
    assert error["fields"]["total"] and all(isinstance(m, str) for m in error["fields"]["total"])


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sku": "X", "quantity": 0, "amount": "10.00"}, "quantity"),
        ({"sku": "X", "quantity": -2, "amount": "10.00"}, "quantity"),
        ({"sku": "X", "quantity": 1, "amount": "-1.00"}, "amount"),
        ({"sku": "X", "quantity": 1, "amount": "ten"}, "amount"),
        ({"sku": "X", "quantity": 1}, "amount"),
    ],
)
def test_a_bad_line_is_a_validation_error_naming_its_index_and_field(pos_client, member, line, field):
    body = purchase_body(member)
    body["lines"] = [{"sku": "OK", "quantity": 1, "amount": "990.00"}, line]
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["lines"]
    assert list(error["fields"]["lines"]) == ["1"]  # the second line, keyed by its index
    assert list(error["fields"]["lines"]["1"]) == [field]


@pytest.mark.parametrize(
    "member_ref",
    [
        lambda m: {},
        lambda m: {"code": "", "phone": ""},
        lambda m: "not-an-object",
        lambda m: {"code": m.code, "phone": m.phone},
        lambda m: {"code": m.code, "phone": m.phone, "line_user_id": m.line_user_id},
    ],
    ids=["none", "blank", "not-an-object", "two", "three"],
)
def test_member_with_none_or_several_identifiers_is_a_validation_error_naming_member(
    pos_client, member, member_ref
):
    body = purchase_body(member)
    body["member"] = member_ref(member)
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["member"]


def test_missing_member_is_a_validation_error_naming_member(pos_client, member):
    body = purchase_body(member)
    del body["member"]
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["member"]


def test_purchase_time_in_the_future_is_a_validation_error_naming_purchased_at(pos_client, member):
    body = purchase_body(member, purchased_at=(timezone.now() + timedelta(hours=2)).isoformat())
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["purchased_at"]


def test_unparseable_purchase_time_is_a_validation_error_naming_purchased_at(pos_client, member):
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, purchased_at="yesterday"), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["purchased_at"]


def test_unknown_channel_is_a_validation_error_naming_channel(pos_client, member):
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, channel="staff"), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["channel"]


def test_partial_refund_without_refund_id_is_a_validation_error_naming_refund_id(pos_client, member):
    purchase = recorded_purchase(pos_client, member)
    with writes_nothing():
        response = pos_client.post(refund_url(purchase["purchase_id"]), {"amount": "100.00"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["refund_id"]


def test_channel_other_than_the_keys_is_a_validation_error_naming_channel(pos_client, member):
    pos_client.post(PURCHASES, purchase_body(member), format="json")
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, channel="ecommerce"), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["channel"]


def test_malformed_json_is_a_400_parse_error(pos_client, member):
    with writes_nothing():
        response = pos_client.post(PURCHASES, data='{"order_id": "POS-1",', content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize("phone", ["12345", "0212", "not a phone", "+66 1", "099999999999999"])
def test_invalid_thai_phone_is_invalid_phone_naming_member_phone(pos_client, member, phone):
    body = purchase_body(member)
    body["member"] = {"phone": phone}
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    error = assert_error(response, 400, "invalid_phone")
    assert list(error["fields"]) == ["member"]
    assert list(error["fields"]["member"]) == ["phone"]
    assert error["fields"]["member"]["phone"]


def test_invalid_phone_on_a_redemption_is_invalid_phone_naming_member_phone(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand)
    factories.give_points(member, 500, key="seed")
    body = redemption_body(member, reward)
    body["member"] = {"phone": "12345"}
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, body, format="json")
    error = assert_error(response, 400, "invalid_phone")
    assert list(error["fields"]["member"]) == ["phone"]


def test_unknown_branch_code_is_branch_not_found_naming_branch(pos_client, member):
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, branch="NOPE"), format="json")
    error = assert_error(response, 400, "branch_not_found")
    assert list(error["fields"]) == ["branch"]


def test_closed_branch_is_branch_not_found(pos_client, brand, member):
    factories.BranchFactory(brand=brand, code="CLOSED", is_active=False)
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, branch="CLOSED"), format="json")
    assert_error(response, 400, "branch_not_found")


def test_another_brands_branch_code_is_branch_not_found(pos_client, member, other_brand):
    factories.BranchFactory(brand=other_brand, code="THEIRS")
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, branch="THEIRS"), format="json")
    assert_error(response, 400, "branch_not_found")


# --- members -------------------------------------------------------------------------


def test_purchase_for_unknown_member_code_is_member_not_found(pos_client, member):
    body = purchase_body(member)
    body["member"] = {"code": "ZZZZZZZZ"}
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    assert_error(response, 404, "member_not_found")


def test_purchase_for_unknown_line_user_is_member_not_found(pos_client, member):
    body = purchase_body(member)
    body["member"] = {"line_user_id": "U" + "f" * 32}
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    assert_error(response, 404, "member_not_found")


def test_redemption_for_unknown_phone_is_member_not_found_and_creates_no_pending_member(pos_client, brand):
    reward = factories.RewardFactory(brand=brand)
    body = {"member": {"phone": "081-999-0000"}, "reward": reward.pk, "request_id": "R-1"}
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, body, format="json")
    assert_error(response, 404, "member_not_found")
    assert not Member.objects.filter(phone="+66819990000").exists()


@pytest.mark.parametrize("suffix", ["", "ledger/"])
def test_unknown_member_code_in_the_url_is_member_not_found(pos_client, brand, suffix):
    response = pos_client.get(f"/api/v1/members/ZZZZZZZZ/{suffix}")
    assert_error(response, 404, "member_not_found")


def test_purchase_for_suspended_member_is_member_inactive_and_writes_nothing(pos_client, member):
    member.status = Member.Status.SUSPENDED
    member.save()
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member), format="json")
    assert_error(response, 403, "member_inactive")


def test_redemption_for_suspended_member_is_member_inactive_and_writes_nothing(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=3)
    factories.give_points(member, 500, key="seed")
    member.status = Member.Status.SUSPENDED
    member.save()
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, 403, "member_inactive")


# --- idempotency conflicts --------------------------------------------------------------


def test_order_replayed_with_a_different_total_is_idempotency_conflict(pos_client, member):
    recorded_purchase(pos_client, member, total="1000.00")
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, total="1000.01"), format="json")
    error = assert_error(response, 409, "idempotency_conflict")
    assert list(error["fields"]) == ["order_id"]


def test_order_replayed_for_another_member_is_idempotency_conflict(pos_client, brand, member):
    recorded_purchase(pos_client, member)
    someone_else = factories.MemberFactory(brand=brand)
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(someone_else), format="json")
    assert_error(response, 409, "idempotency_conflict")



def test_order_replayed_for_an_unknown_phone_is_idempotency_conflict_and_creates_no_member(pos_client, member):
    recorded_purchase(pos_client, member)
    body = purchase_body(member)
    body["member"] = {"phone": "081-777-6666"}
    with writes_nothing():
        response = pos_client.post(PURCHASES, body, format="json")
    assert_error(response, 409, "idempotency_conflict")


def test_request_id_reused_for_another_reward_is_idempotency_conflict(pos_client, brand, member):
    first, second = factories.RewardFactory.create_batch(2, brand=brand, points_cost=100, stock=5)
    factories.give_points(member, 500, key="seed")
    response = pos_client.post(REDEMPTIONS, redemption_body(member, first, "R-1"), format="json")
    assert response.status_code == 201, response.content
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, second, "R-1"), format="json")
    error = assert_error(response, 409, "idempotency_conflict")
    assert list(error["fields"]) == ["request_id"]


def test_request_id_reused_by_another_member_is_idempotency_conflict(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100)
    someone_else = factories.MemberFactory(brand=brand)
    factories.give_points(member, 500, key="seed")
    factories.give_points(someone_else, 500, key="seed-2")
    assert pos_client.post(REDEMPTIONS, redemption_body(member, reward, "R-1"), format="json").status_code == 201
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(someone_else, reward, "R-1"), format="json")
    assert_error(response, 409, "idempotency_conflict")


def test_refund_id_reused_with_another_amount_is_idempotency_conflict(pos_client, member):
    purchase = recorded_purchase(pos_client, member)
    url = refund_url(purchase["purchase_id"])
    assert pos_client.post(url, {"amount": "100.00", "refund_id": "RF-1"}, format="json").status_code == 201
    with writes_nothing():
        response = pos_client.post(url, {"amount": "200.00", "refund_id": "RF-1"}, format="json")
    error = assert_error(response, 409, "idempotency_conflict")
    assert list(error["fields"]) == ["refund_id"]


# --- rewards and redemptions ---------------------------------------------------------------


@pytest.mark.parametrize("reward_id", [999_999, 2**63])
def test_unknown_reward_is_reward_not_found_naming_reward(pos_client, member, reward_id):
    factories.give_points(member, 500, key="seed")
    body = {"member": {"code": member.code}, "reward": reward_id, "request_id": "R-1"}
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, body, format="json")
    error = assert_error(response, 404, "reward_not_found")
    assert list(error["fields"]) == ["reward"]


@pytest.mark.parametrize(
    "window",
    [
        {"is_active": False},
        {"ends_at": timezone.now() - timedelta(minutes=1)},
        {"starts_at": timezone.now() + timedelta(days=1)},
    ],
    ids=["inactive", "ended", "not-started"],
)
def test_reward_outside_its_window_is_reward_inactive(pos_client, brand, member, window):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=5, **window)
    factories.give_points(member, 500, key="seed")
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, 422, "reward_inactive")


def test_redemption_without_enough_points_is_insufficient_points(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=5)
    factories.give_points(member, 99, key="seed")
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, 422, "insufficient_points")
    assert member.accounts.get().balance == 99
    reward.refresh_from_db()
    assert reward.stock == 5


def test_points_past_their_expiry_do_not_pay_for_a_reward(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100)
    factories.give_points(member, 500, key="old", expires_at=timezone.now() - timedelta(days=1))
    factories.give_points(member, 60, key="fresh")
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, 422, "insufficient_points")


def test_reward_with_no_stock_left_is_reward_out_of_stock(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=0)
    factories.give_points(member, 500, key="seed")
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, 409, "reward_out_of_stock")



@pytest.mark.parametrize(("stock", "code", "status"), [(0, "reward_out_of_stock", 409),
                                                       (5, "insufficient_points", 422)])
def test_failed_redemption_by_a_member_without_an_account_creates_no_account(
    pos_client, brand, member, stock, code, status
):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=stock)
    assert not member.accounts.exists()
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, redemption_body(member, reward), format="json")
    assert_error(response, status, code)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"reward": 0}, "reward"), ({"reward": "abc"}, "reward"), ({"request_id": ""}, "request_id"),
     ({"request_id": "x" * 101}, "request_id"), ({"member": {}}, "member")],
)
def test_malformed_redemption_is_a_validation_error_naming_the_field(pos_client, brand, member, change, field):
    reward = factories.RewardFactory(brand=brand)
    factories.give_points(member, 500, key="seed")
    body = redemption_body(member, reward)
    body.update(change)
    with writes_nothing():
        response = pos_client.post(REDEMPTIONS, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == [field]


# --- coupons -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "use/")])
def test_unknown_coupon_is_coupon_not_found(pos_client, brand, member, method, suffix):
    issued_coupon(brand, member)
    with writes_nothing():
        response = getattr(pos_client, method)(f"/api/v1/coupons/{'A' * 16}/{suffix}", {}, format="json")
    assert_error(response, 404, "coupon_not_found")


def test_using_a_coupon_twice_is_coupon_already_used(pos_client, brand, member):
    coupon = issued_coupon(brand, member)
    url = f"/api/v1/coupons/{coupon.code}/use/"
    assert pos_client.post(url, {"branch": "MAIN"}, format="json").status_code == 200
    with writes_nothing():
        response = pos_client.post(url, {"reference": "second try"}, format="json")
    assert_error(response, 409, "coupon_already_used")


def test_using_an_expired_coupon_is_coupon_expired(pos_client, brand, member):
    coupon = issued_coupon(brand, member)
    Coupon.objects.filter(pk=coupon.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with writes_nothing():
        response = pos_client.post(f"/api/v1/coupons/{coupon.code}/use/", {}, format="json")
    assert_error(response, 422, "coupon_expired")


def test_using_a_cancelled_coupon_is_coupon_cancelled(pos_client, brand, member):
    coupon = issued_coupon(brand, member)
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.CANCELLED)
    with writes_nothing():
        response = pos_client.post(f"/api/v1/coupons/{coupon.code}/use/", {}, format="json")
    assert_error(response, 422, "coupon_cancelled")


def test_using_a_coupon_at_an_unknown_branch_is_branch_not_found(pos_client, brand, member):
    coupon = issued_coupon(brand, member)
    with writes_nothing():
        response = pos_client.post(f"/api/v1/coupons/{coupon.code}/use/", {"branch": "NOPE"}, format="json")
    error = assert_error(response, 400, "branch_not_found")
    assert list(error["fields"]) == ["branch"]


# --- refunds -------------------------------------------------------------------------------


@pytest.mark.parametrize("purchase_id", [999_999, 2**63])
def test_refund_of_unknown_purchase_is_purchase_not_found(pos_client, member, purchase_id):
    recorded_purchase(pos_client, member)
    with writes_nothing():
        response = pos_client.post(refund_url(purchase_id), {}, format="json")
    assert_error(response, 404, "purchase_not_found")


def test_refund_of_a_fully_refunded_purchase_is_purchase_already_refunded(pos_client, member):
    purchase = recorded_purchase(pos_client, member)
    assert pos_client.post(refund_url(purchase["purchase_id"]), {}, format="json").status_code == 201
    with writes_nothing():
        response = pos_client.post(refund_url(purchase["purchase_id"]), {"amount": "1.00", "refund_id": "R-9"},
                                   format="json")
    assert_error(response, 409, "purchase_already_refunded")


@pytest.mark.parametrize(("earlier", "amount"), [(None, "1000.01"), ("600.00", "400.01")])
def test_refund_larger_than_what_is_left_is_refund_exceeds_total(pos_client, member, earlier, amount):
    purchase = recorded_purchase(pos_client, member, total="1000.00")
    url = refund_url(purchase["purchase_id"])
    if earlier:
        assert pos_client.post(url, {"amount": earlier, "refund_id": "R-1"}, format="json").status_code == 201
    with writes_nothing():
        response = pos_client.post(url, {"amount": amount, "refund_id": "R-2"}, format="json")
    error = assert_error(response, 400, "refund_exceeds_total")
    assert list(error["fields"]) == ["amount"]


@pytest.mark.parametrize("amount", ["0", "0.00", "-5", "abc", "1.001"])
def test_refund_amount_not_positive_or_malformed_is_a_validation_error(pos_client, member, amount):
    purchase = recorded_purchase(pos_client, member)
    with writes_nothing():
        response = pos_client.post(refund_url(purchase["purchase_id"]), {"amount": amount, "refund_id": "R-1"},
                                   format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["amount"]


# --- branch-bound keys -------------------------------------------------------------------------


@pytest.fixture
def branch_bound_client(brand, api_client):
    """A client whose key is bound to branch MAIN; brand also has branch SECOND."""
    factories.BranchFactory(brand=brand, code="SECOND")
    _key, raw = factories.api_key(brand=brand, branch=brand.branches.get(code="MAIN"), name="MAIN till")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return api_client


def test_branch_bound_key_naming_another_branch_is_branch_not_allowed(branch_bound_client, member):
    with writes_nothing():
        response = branch_bound_client.post(PURCHASES, purchase_body(member, branch="SECOND"), format="json")
    error = assert_error(response, 403, "branch_not_allowed")
    assert list(error["fields"]) == ["branch"]


def test_branch_bound_key_naming_an_unknown_branch_is_branch_not_allowed(branch_bound_client, member):
    with writes_nothing():
        response = branch_bound_client.post(PURCHASES, purchase_body(member, branch="NOPE"), format="json")
    assert_error(response, 403, "branch_not_allowed")


def test_branch_bound_key_using_a_coupon_at_another_branch_is_branch_not_allowed(
    branch_bound_client, brand, member
):
    coupon = issued_coupon(brand, member)
    with writes_nothing():
        response = branch_bound_client.post(f"/api/v1/coupons/{coupon.code}/use/", {"branch": "SECOND"},
                                            format="json")
    assert_error(response, 403, "branch_not_allowed")
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


# --- errors raised by the framework keep the same shape ------------------------------------------


def test_wrong_method_is_405_method_not_allowed(pos_client, brand):
    with writes_nothing():
        response = pos_client.get(PURCHASES)
    assert_error(response, 405, "method_not_allowed")



@pytest.mark.parametrize(
    ("method", "url", "codes"),
    [
        ("post", "/api/v1/purchases/POS-1/refund/", {"not_found", "purchase_not_found"}),
        ("get", "/api/v1/no-such-endpoint/", {"not_found"}),
    ],
    ids=["order-id-instead-of-purchase-id", "unknown-endpoint"],
)
def test_a_url_that_matches_no_route_is_a_json_404(pos_client, brand, method, url, codes):
    with writes_nothing():
        response = getattr(pos_client, method)(url, {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] in codes


def test_page_past_the_end_is_404_not_found(pos_client, member):
    factories.give_points(member, 5, key="seed")
    response = pos_client.get(f"/api/v1/members/{member.code}/ledger/?page=9")
    assert_error(response, 404, "not_found")


# --- language ------------------------------------------------------------------------------------


def test_messages_are_english_when_english_is_asked(pos_client, brand):
    response = pos_client.get("/api/v1/members/ZZZZZZZZ/", HTTP_ACCEPT_LANGUAGE="en")
    error = assert_error(response, 404, "member_not_found")
    assert error["message"] == "No member matches this code, phone number or LINE user."


@pytest.mark.django_db
def test_framework_messages_are_thai_when_thai_is_asked(api_client):
    response = api_client.get("/api/v1/rewards/", HTTP_ACCEPT_LANGUAGE="th")
    error = assert_error(response, 401, "not_authenticated")
    assert THAI.search(error["message"]), error["message"]


def test_domain_error_message_is_thai_when_thai_is_asked_and_the_code_stays_english(pos_client, brand):
    response = pos_client.get("/api/v1/members/ZZZZZZZZ/", HTTP_ACCEPT_LANGUAGE="th")
    error = assert_error(response, 404, "member_not_found")
    assert THAI.search(error["message"]), error["message"]


def test_messages_are_thai_when_no_language_is_asked(pos_client, brand, settings):
    settings.LANGUAGE_CODE = "th"  # the production default; the suite runs in English
    response = pos_client.get("/api/v1/members/ZZZZZZZZ/")
    error = assert_error(response, 404, "member_not_found")
    assert THAI.search(error["message"]), error["message"]


def test_a_bill_below_the_coupons_minimum_spend_is_refused_and_the_coupon_stays_issued(pos_client, brand, member):
    coupon = issued_coupon(brand, member)
    Reward.objects.filter(pk=coupon.reward_id).update(min_spend_thb=Decimal("500.00"))
    url = f"/api/v1/coupons/{coupon.code}/use/"
    with writes_nothing():
        response = pos_client.post(url, {"bill_total": "499.99"}, format="json")
    assert_error(response, 422, "coupon_below_minimum_spend")
    assert pos_client.post(url, {"bill_total": "500.00"}, format="json").status_code == 200
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.USED
