"""Who may do what through the v1 API, as tables over every endpoint: no key, a revoked or
forged key, a key of brand A against brand B's rows, a branch-bound key against another
branch's purchase, a staff session without its CSRF token. Each is refused and writes
nothing.

Chosen and kept consistent: another brand's row answers exactly like a row that does not
exist (404 with the resource's ``*_not_found`` code; a member card token of another brand is
``card_invalid``, 422, like any forged token), never 403, so a key cannot probe which codes
exist elsewhere. (tests/api/test_api_keys.py already covers: another brand's member and
ledger, purchase for, refund of and redemption of another brand's rows, coupons, the rewards
list, X-Brand with a key, branch-bound purchases and coupon uses, and one revoked key.)
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Coupon, LedgerEntry, PointAccount, Purchase, PurchaseRefund, Redemption, Reward
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.redemption import reward_redeem
from members.card import card_token
from members.models import ApiKey, Member
from tests import factories


def world_snapshot() -> dict:
    """Everything an API call could change."""
    return {
        "purchases": Purchase.objects.count(),
        "refunds": PurchaseRefund.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "redemptions": Redemption.objects.count(),
        "members": Member.objects.count(),
        "balances": sorted(PointAccount.objects.values_list("pk", "balance")),
        "stock": sorted(Reward.objects.values_list("pk", "stock")),
        "coupons": sorted(Coupon.objects.values_list("pk", "status")),
    }


@pytest.fixture
def rows(brand, other_brand):
    """Each brand: a member with points, a purchase at MAIN, a reward, an issued coupon."""
    made = {}
    for tag, owner in (("a", brand), ("b", other_brand)):
        member = factories.MemberFactory(brand=owner)
        factories.give_points(member, 500, key=f"seed-{tag}")
        purchase = purchase_record(brand=owner, member=member, channel="pos", order_id=f"{tag}-1", total=1000,
                                   lines=[LineInput(amount=1000)], purchased_at=timezone.now(),
                                   branch=owner.branches.get(code="MAIN")).purchase
        reward = factories.RewardFactory(brand=owner, points_cost=10, stock=5)
        coupon = reward_redeem(brand=owner, member=member, reward_id=reward.pk,
                               request_id=f"{tag}-r").redemption.coupon
        made[tag] = {"member": member, "purchase": purchase, "reward": reward, "coupon": coupon}
    return made


def key_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


# Every endpoint, pointed at rows of brand ``target`` ("a": the key's own brand, "b": the other).
def endpoints(rows, target: str) -> dict:
    row, own = rows[target], rows["a"]
    member = row["member"]
    return {
        "member": ("get", f"/api/v1/members/{member.code}/", None),
        "ledger": ("get", f"/api/v1/members/{member.code}/ledger/", None),
        "rewards-for-member": ("get", f"/api/v1/rewards/?member={member.code}", None),
        "rewards": ("get", "/api/v1/rewards/", None),
        "card": ("post", "/api/v1/member-cards/verify/", {"token": card_token(member)}),
        "purchase": ("post", "/api/v1/purchases/", {"order_id": "NEW-1", "member": {"code": member.code},
                                                    "total": "100.00"}),
        "refund": ("post", f"/api/v1/purchases/{row['purchase'].pk}/refund/", {}),
        "redeem-their-member": ("post", "/api/v1/redemptions/", {"member": {"code": member.code},
                                                                  "reward": own["reward"].pk, "request_id": "X-1"}),
        "coupon": ("get", f"/api/v1/coupons/{row['coupon'].code}/", None),
        "coupon-use": ("post", f"/api/v1/coupons/{row['coupon'].code}/use/", {}),
    }


ENDPOINT_NAMES = ["member", "ledger", "rewards-for-member", "rewards", "card", "purchase", "refund",
                  "redeem-their-member", "coupon", "coupon-use"]


def call(client, spec):
    method, url, body = spec
    return getattr(client, method)(url, body, format="json") if method == "post" else client.get(url)


# --- no key, revoked, forged --------------------------------------------------------------------


def revoked_key(brand) -> str:
    key, raw = factories.api_key(brand=brand, name="revoked")
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))
    return raw


CREDENTIALS = {
    "no-header": lambda brand: None,
    "revoked": revoked_key,
    "forged": lambda brand: f"{ApiKey.PREFIX}_{'x' * 40}",
    "empty": lambda brand: "",
    "the-digest": lambda brand: factories.api_key(brand=brand)[0].key_digest,
    "bearer-scheme": lambda brand: ("Bearer", factories.api_key(brand=brand)[1]),
}


@pytest.mark.parametrize("credential", CREDENTIALS, ids=list(CREDENTIALS))
@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_without_a_valid_key_every_endpoint_is_401_and_writes_nothing(rows, brand, credential, endpoint):
    made = CREDENTIALS[credential](brand)
    client = APIClient()
    if isinstance(made, tuple):
        client.credentials(HTTP_AUTHORIZATION=" ".join(made))
    elif made is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {made}")
    before = world_snapshot()
    response = call(client, endpoints(rows, "a")[endpoint])
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}
    assert response["WWW-Authenticate"] == "Api-Key"
    assert world_snapshot() == before


# --- brand A's key against brand B's rows -------------------------------------------------------------

CROSS_BRAND = {
    "member": (404, "member_not_found"),
    "ledger": (404, "member_not_found"),
    "rewards-for-member": (404, "member_not_found"),
    "card": (422, "card_invalid"),
    "purchase": (404, "member_not_found"),
    "refund": (404, "purchase_not_found"),
    "redeem-their-member": (404, "member_not_found"),
    "coupon": (404, "coupon_not_found"),
    "coupon-use": (404, "coupon_not_found"),
}


@pytest.mark.parametrize("endpoint", list(CROSS_BRAND))
def test_a_key_of_brand_a_finds_nothing_of_brand_b_and_changes_nothing(pos_client, rows, endpoint):
    before = world_snapshot()
    response = call(pos_client, endpoints(rows, "b")[endpoint])
    assert (response.status_code, response.json()["error"]["code"]) == CROSS_BRAND[endpoint]
    assert world_snapshot() == before
    assert rows["b"]["member"].code not in response.content.decode()


@pytest.mark.parametrize("endpoint", list(CROSS_BRAND))
def test_brand_bs_row_answers_exactly_like_a_row_that_does_not_exist(pos_client, rows, endpoint):
    """Same status, code and message: nothing tells a key that the row exists in another brand."""
    method, url, body = endpoints(rows, "b")[endpoint]
    b = rows["b"]
    missing_url = (url.replace(b["member"].code, "ZZZZZZZZ").replace(b["coupon"].code, "ZZZZZZZZZZZZZZZZ")
                   .replace(f"/purchases/{b['purchase'].pk}/", "/purchases/999999999/"))
    missing_body = body
    if body and body.get("member"):
        missing_body = {**body, "member": {"code": "ZZZZZZZZ"}}
    if endpoint == "card":
        missing_body = {"token": card_token(b["member"])[:-3] + "xyz"}
    theirs = call(pos_client, (method, url, body))
    nobody = call(pos_client, (method, missing_url, missing_body))
    assert (theirs.status_code, theirs.json()) == (nobody.status_code, nobody.json())


def test_a_key_of_brand_a_still_works_on_its_own_rows(pos_client, rows):
    """The same table with brand A's own rows succeeds: the refusals above are about the brand."""
    own = endpoints(rows, "a")
    for name in ("member", "ledger", "rewards-for-member", "card", "coupon", "refund", "coupon-use"):
        response = call(pos_client, own[name])
        assert response.status_code in (200, 201), (name, response.content)


def test_a_purchase_for_brand_bs_phone_number_leaves_brand_b_untouched(pos_client, rows, brand):
    """An unknown phone (here: one only brand B knows) makes a pending member of brand A, by design."""
    theirs = rows["b"]["member"]
    balance = theirs.accounts.get().balance
    response = pos_client.post("/api/v1/purchases/", {"order_id": "PHONE-1", "member": {"phone": theirs.phone},
                                                      "total": "100.00"}, format="json")
    assert response.status_code == 201, response.content
    created = Member.objects.get(code=response.json()["member_code"])
    assert created.brand == brand and created.pk != theirs.pk and created.status == Member.Status.PENDING
    assert theirs.accounts.get().balance == balance
    assert not Purchase.objects.filter(member=theirs, order_id="PHONE-1").exists()


# --- a branch-bound key ------------------------------------------------------------------------------


def test_a_branch_bound_key_cannot_refund_another_branchs_purchase(rows, brand):
    second = factories.BranchFactory(brand=brand, code="SECOND")
    _key, raw = factories.api_key(brand=brand, branch=second, name="SECOND till")
    before = world_snapshot()
    response = key_client(raw).post(f"/api/v1/purchases/{rows['a']['purchase'].pk}/refund/", {}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "purchase_not_found")
    assert world_snapshot() == before


def test_a_branch_bound_key_refunds_its_own_branchs_purchase(rows, brand):
    _key, raw = factories.api_key(brand=brand, branch=brand.branches.get(code="MAIN"), name="MAIN till")
    response = key_client(raw).post(f"/api/v1/purchases/{rows['a']['purchase'].pk}/refund/", {}, format="json")
    assert response.status_code == 201, response.content


# --- staff sessions and CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["purchase", "refund", "redeem-their-member", "coupon-use", "card"])
def test_a_staff_session_post_without_its_csrf_token_is_403_and_writes_nothing(rows, brand, endpoint):
    manager = factories.staff_user(brands=[brand], username="manager")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(manager)
    before = world_snapshot()
    response = call(client, endpoints(rows, "a")[endpoint])
    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["error"]["message"]
    assert world_snapshot() == before


def test_an_api_key_needs_no_csrf_token(rows, brand):
    _key, raw = factories.api_key(brand=brand)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    response = call(client, endpoints(rows, "a")["purchase"])
    assert response.status_code == 201, response.content
