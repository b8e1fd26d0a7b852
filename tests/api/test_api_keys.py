"""Who can call the v1 API and what they see: API keys are scoped to one brand (and
optionally one branch) and stored hashed; staff sessions name their brand with X-Brand."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Coupon, LedgerEntry, Purchase, PurchaseRefund, Redemption
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.redemption import reward_redeem
from members.models import ApiKey, Brand, StaffAssignment
from tests import factories
from tests.api.payloads import purchase_body as _purchase_body

PURCHASES = "/api/v1/purchases/"
REWARDS = "/api/v1/rewards/"
REDEMPTIONS = "/api/v1/redemptions/"



def purchase_body(member, order_id="POS-1", total="1000.00", **extra) -> dict:
    return _purchase_body(member, order_id, total, **{"branch": None, **extra})


def error_code(response) -> str:
    return response.json()["error"]["code"]


def client_with_key(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def theirs(other_brand):
    """Brand B's member with a purchase, a reward and an issued coupon."""
    member = factories.MemberFactory(brand=other_brand)
    purchase = purchase_record(
        brand=other_brand, member=member, channel="pos", order_id="B-1", total=1000,
        lines=[LineInput(amount=1000)], purchased_at=timezone.now(),
    ).purchase
    reward = factories.RewardFactory(brand=other_brand, points_cost=10, stock=5, name="Their reward")
    coupon = reward_redeem(brand=other_brand, member=member, reward_id=reward.pk, request_id="B-R1").redemption.coupon
    return {"member": member, "purchase": purchase, "reward": reward, "coupon": coupon}


# --- brand isolation ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "ledger/"])
def test_another_brands_member_is_not_found(pos_client, theirs, suffix):
    response = pos_client.get(f"/api/v1/members/{theirs['member'].code}/{suffix}")
    assert response.status_code == 404
    assert error_code(response) == "member_not_found"


@pytest.mark.parametrize("identifier", ["code", "line_user_id"])
def test_purchase_for_another_brands_member_is_member_not_found(pos_client, theirs, identifier):
    body = purchase_body(theirs["member"])
    body["member"] = {identifier: getattr(theirs["member"], identifier)}
    response = pos_client.post(PURCHASES, body, format="json")
    assert response.status_code == 404
    assert error_code(response) == "member_not_found"
    assert Purchase.objects.count() == 1
    assert theirs["member"].accounts.get().balance == 30  # 40 earned, 10 spent


def test_refunding_another_brands_purchase_is_purchase_not_found(pos_client, theirs):
    purchase = theirs["purchase"]
    response = pos_client.post(f"{PURCHASES}{purchase.pk}/refund/", {}, format="json")
    assert response.status_code == 404
    assert error_code(response) == "purchase_not_found"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.COMPLETED
    assert purchase.refunded_total == 0
    assert not PurchaseRefund.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSE).exists()


def test_redeeming_another_brands_reward_is_reward_not_found(pos_client, brand, member, theirs):
    factories.give_points(member, 500, key="seed")
    body = {"member": {"code": member.code}, "reward": theirs["reward"].pk, "request_id": "A-R1"}
    response = pos_client.post(REDEMPTIONS, body, format="json")
    assert response.status_code == 404
    assert error_code(response) == "reward_not_found"
    theirs["reward"].refresh_from_db()
    assert theirs["reward"].stock == 4
    assert Redemption.objects.count() == 1
    assert member.accounts.get().balance == 500


def test_a_request_id_used_by_another_brand_is_free_for_this_brand(pos_client, brand, member, theirs):
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    factories.give_points(member, 10, key="seed")
    body = {"member": {"code": member.code}, "reward": reward.pk, "request_id": "B-R1"}
    response = pos_client.post(REDEMPTIONS, body, format="json")
    assert response.status_code == 201, response.content
    assert Redemption.objects.filter(request_id="B-R1").count() == 2


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "use/")])
def test_another_brands_coupon_is_not_found_and_stays_issued(pos_client, theirs, method, suffix):
    coupon = theirs["coupon"]
    response = getattr(pos_client, method)(f"/api/v1/coupons/{coupon.code}/{suffix}", {}, format="json")
    assert response.status_code == 404
    assert error_code(response) == "coupon_not_found"
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert coupon.used_at is None


def test_another_brands_rewards_are_never_listed(pos_client, brand, theirs):
    mine = factories.RewardFactory(brand=brand, name="My reward")
    response = pos_client.get(REWARDS)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]


def test_x_brand_header_and_brand_parameter_cannot_switch_an_api_keys_brand(pos_client, brand, theirs):
    mine = factories.RewardFactory(brand=brand)
    response = pos_client.get(f"{REWARDS}?brand={theirs['member'].brand.slug}",
                              HTTP_X_BRAND=theirs["member"].brand.slug)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]
    response = pos_client.get(f"/api/v1/members/{theirs['member'].code}/", HTTP_X_BRAND="other")
    assert response.status_code == 404


# --- branch-bound keys ---------------------------------------------------------------------------


@pytest.fixture
def second_branch(brand):
    return factories.BranchFactory(brand=brand, code="SECOND")


def test_branch_bound_key_records_the_purchase_at_its_branch_without_naming_it(brand, member, second_branch):
    key, raw = factories.api_key(brand=brand, branch=second_branch, name="SECOND till")
    response = client_with_key(raw).post(PURCHASES, purchase_body(member), format="json")
    assert response.status_code == 201, response.content
    purchase = Purchase.objects.get(pk=response.json()["purchase_id"])
    assert purchase.branch == second_branch
    assert purchase.api_key == key


def test_branch_bound_key_may_name_its_own_branch(brand, member, second_branch):
    _key, raw = factories.api_key(brand=brand, branch=second_branch)
    response = client_with_key(raw).post(PURCHASES, purchase_body(member, branch="SECOND"), format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().branch == second_branch


def test_branch_bound_key_uses_a_coupon_at_its_branch(brand, member, second_branch):
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    factories.give_points(member, 10, key="seed")
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="R-1").redemption.coupon
    _key, raw = factories.api_key(brand=brand, branch=second_branch)
    response = client_with_key(raw).post(f"/api/v1/coupons/{coupon.code}/use/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["used_branch"] == "SECOND"
    coupon.refresh_from_db()
    assert coupon.used_branch == second_branch


def test_brand_wide_key_records_the_named_branch_or_none(pos_client, brand, member, second_branch):
    named = pos_client.post(PURCHASES, purchase_body(member, order_id="A", branch="SECOND"), format="json")
    unnamed = pos_client.post(PURCHASES, purchase_body(member, order_id="B"), format="json")
    assert (named.status_code, unnamed.status_code) == (201, 201)
    assert Purchase.objects.get(order_id="A").branch == second_branch
    assert Purchase.objects.get(order_id="B").branch is None


# --- how keys are stored and revoked ----------------------------------------------------------------


def test_the_key_is_stored_only_as_its_sha256_digest(brand):
    key, raw = factories.api_key(brand=brand)
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert row["key_digest"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in row.values())
    secret = raw.removeprefix(f"{ApiKey.PREFIX}_")
    assert all(secret not in str(value) for value in row.values())
    assert len(row["key_prefix"]) < len(raw) // 3


def test_sending_the_stored_digest_instead_of_the_key_is_refused(brand):
    key, _raw = factories.api_key(brand=brand)
    response = client_with_key(key.key_digest).get(REWARDS)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_two_keys_never_share_a_digest_and_each_authenticates(brand):
    keys = [factories.api_key(brand=brand, name=f"till {n}") for n in range(3)]
    assert len({key.key_digest for key, _raw in keys}) == 3
    for _key, raw in keys:
        assert client_with_key(raw).get(REWARDS).status_code == 200


def test_a_used_key_records_when_it_was_last_used(brand):
    key, raw = factories.api_key(brand=brand)
    assert key.last_used_at is None
    client_with_key(raw).get(REWARDS)
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(minutes=1)


def test_a_revoked_key_gets_401_and_a_key_revoked_later_still_works(brand):
    key, raw = factories.api_key(brand=brand)
    client = client_with_key(raw)
    key.revoked_at = timezone.now() + timedelta(hours=1)
    key.save()
    assert client.get(REWARDS).status_code == 200
    key.revoked_at = timezone.now() - timedelta(seconds=1)
    key.save()
    response = client.get(REWARDS)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_a_key_of_a_deactivated_brand_gets_401(brand):
    _key, raw = factories.api_key(brand=brand)
    Brand.objects.filter(pk=brand.pk).update(is_active=False)
    response = client_with_key(raw).get(REWARDS)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


# --- staff sessions ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(brand):
    client = APIClient()
    client.force_login(factories.staff_user(brands=[brand], username="staff-a"))
    return client


def test_staff_session_reads_the_brand_named_by_x_brand(staff_client, brand, theirs):
    mine = factories.RewardFactory(brand=brand)
    response = staff_client.get(REWARDS, HTTP_X_BRAND=brand.slug)
    assert response.status_code == 200, response.content
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]


def test_staff_session_with_one_brand_may_omit_x_brand(staff_client, brand, member):
    response = staff_client.get(f"/api/v1/members/{member.code}/")
    assert response.status_code == 200, response.content
    assert response.json()["code"] == member.code


def test_staff_session_records_a_purchase_without_an_api_key(staff_client, brand, member):
    response = staff_client.post(PURCHASES, purchase_body(member, branch="MAIN"), format="json",
                                 HTTP_X_BRAND=brand.slug)
    assert response.status_code == 201, response.content
    purchase = Purchase.objects.get()
    assert purchase.api_key is None
    assert purchase.branch.code == "MAIN"
    assert member.accounts.get().balance == 40


@pytest.mark.parametrize("how", ["header", "query"])
def test_staff_session_naming_a_brand_they_are_not_assigned_to_is_403(staff_client, theirs, how):
    slug = theirs["member"].brand.slug
    if how == "header":
        response = staff_client.get(f"/api/v1/members/{theirs['member'].code}/", HTTP_X_BRAND=slug)
    else:
        response = staff_client.get(f"/api/v1/members/{theirs['member'].code}/?brand={slug}")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


def test_staff_session_cannot_write_to_a_brand_they_are_not_assigned_to(staff_client, theirs):
    body = purchase_body(theirs["member"], order_id="SNEAKY")
    response = staff_client.post(PURCHASES, body, format="json", HTTP_X_BRAND=theirs["member"].brand.slug)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert not Purchase.objects.filter(order_id="SNEAKY").exists()
    assert theirs["member"].accounts.get().balance == 30


def test_staff_session_with_several_brands_must_name_one(brand, other_brand):
    client = APIClient()
    client.force_login(factories.staff_user(brands=[brand, other_brand], username="multi"))
    response = client.get(REWARDS)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert list(response.json()["error"]["fields"]) == ["brand"]
    assert client.get(REWARDS, HTTP_X_BRAND=other_brand.slug).status_code == 200


def test_superuser_session_may_name_any_brand(brand, theirs):
    client = APIClient()
    client.force_login(factories.staff_user(username="root", superuser=True))
    response = client.get(f"/api/v1/members/{theirs['member'].code}/", HTTP_X_BRAND=theirs["member"].brand.slug)
    assert response.status_code == 200, response.content


def test_a_logged_in_user_who_is_not_staff_is_refused(brand, member):
    user = get_user_model().objects.create_user(username="shopper", password="pw-for-tests")
    StaffAssignment.objects.create(user=user, brand=brand)  # assigned, but not staff
    client = APIClient()
    client.force_login(user)
    response = client.get(f"/api/v1/members/{member.code}/", HTTP_X_BRAND=brand.slug)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    response = client.post(PURCHASES, purchase_body(member), format="json", HTTP_X_BRAND=brand.slug)
    assert response.status_code == 403
    assert not Purchase.objects.exists()


def test_a_staff_user_without_an_assignment_sees_no_brand(brand, member):
    client = APIClient()
    client.force_login(factories.staff_user(username="nobody"))
    response = client.get(f"/api/v1/members/{member.code}/", HTTP_X_BRAND=brand.slug)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
