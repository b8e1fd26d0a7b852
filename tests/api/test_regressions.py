"""Regressions found in review, through the v1 API: retried partial refunds, the channel
fixed by the API key, long order and refund IDs, refunds by branch-bound keys, expired
points on refunds, and staff sessions that write only as brand managers."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import LedgerEntry, PointAccount, Purchase, PurchaseRefund
from members.models import Branch, StaffAssignment
from members.services import api_key_create
from tests import factories
from tests.api.payloads import purchase_body
from tests.api.test_errors import assert_error, recorded_purchase, refund_url, writes_nothing

PURCHASES = "/api/v1/purchases/"


def client_with_key(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def balance(member) -> int:
    return PointAccount.objects.get(member=member).balance


# --- partial refunds carry their refund_id ----------------------------------------------------------------


def test_partial_refund_needs_a_refund_id_so_that_a_retry_refunds_once(pos_client, member):
    purchase = recorded_purchase(pos_client, member)  # 1000 THB, 40 points
    url = refund_url(purchase["purchase_id"])
    with writes_nothing():
        response = pos_client.post(url, {"amount": "250.00"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["refund_id"]

    first = pos_client.post(url, {"amount": "250.00", "refund_id": "R-1"}, format="json")
    retry = pos_client.post(url, {"amount": "250.00", "refund_id": "R-1"}, format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert first.json()["refunded_total"] == "250.00"
    assert PurchaseRefund.objects.count() == 1
    assert balance(member) == 30
    # a full refund needs no id: it cannot be repeated
    rest = pos_client.post(url, {}, format="json")
    assert rest.status_code == 201, rest.content
    assert balance(member) == 0


# --- the API key fixes the channel ------------------------------------------------------------------------


def test_a_body_channel_other_than_the_keys_is_refused_and_the_order_earns_once(pos_client, member):
    assert pos_client.post(PURCHASES, purchase_body(member), format="json").status_code == 201
    with writes_nothing():
        response = pos_client.post(PURCHASES, purchase_body(member, channel="ecommerce"), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["channel"]
    assert list(Purchase.objects.values_list("channel", "order_id")) == [("pos", "POS-1")]
    assert balance(member) == 40


def test_a_key_records_its_own_channel_with_or_without_it_in_the_body(brand, member):
    _key, raw = api_key_create(brand=brand, name="Web shop", channel="ecommerce")
    web = client_with_key(raw)
    omitted = web.post(PURCHASES, purchase_body(member, order_id="WEB-1"), format="json")
    named = web.post(PURCHASES, purchase_body(member, order_id="WEB-2", channel="ecommerce"), format="json")
    assert (omitted.status_code, named.status_code) == (201, 201)
    refused = web.post(PURCHASES, purchase_body(member, order_id="WEB-1", channel="pos"), format="json")
    assert list(assert_error(refused, 400, "validation_error")["fields"]) == ["channel"]
    assert sorted(Purchase.objects.values_list("order_id", "channel")) == [("WEB-1", "ecommerce"),
                                                                          ("WEB-2", "ecommerce")]
    assert balance(member) == 80


# --- long IDs ---------------------------------------------------------------------------------------------


def test_refund_with_the_longest_order_and_refund_ids_succeeds(pos_client, member):
    order_id, refund_id = "O" * 100, "R" * 100
    purchase = recorded_purchase(pos_client, member, order_id=order_id)
    response = pos_client.post(refund_url(purchase["purchase_id"]), {"amount": "500.00", "refund_id": refund_id},
                               format="json")
    assert response.status_code == 201, response.content
    assert response.json()["refund_id"] == refund_id
    reversal = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSE)
    assert reversal.reference == f"{order_id} / {refund_id}"[:200]
    assert balance(member) == 20


# --- branch-bound keys refund only their branch's purchases -----------------------------------------------


def test_a_branch_bound_key_refunds_only_its_own_branchs_purchases(brand, member, pos_client):
    other_branch = Branch.objects.create(brand=brand, code="OTHER", name="Other")
    purchase = recorded_purchase(pos_client, member)  # at MAIN, 40 points
    url = refund_url(purchase["purchase_id"])
    _key, other_raw = factories.api_key(brand=brand, branch=other_branch, name="Other till")
    with writes_nothing():
        response = client_with_key(other_raw).post(url, {}, format="json")
    assert_error(response, 404, "purchase_not_found")
    assert balance(member) == 40

    _key, main_raw = factories.api_key(brand=brand, branch=brand.branches.get(code="MAIN"), name="Main till")
    response = client_with_key(main_raw).post(url, {"amount": "500.00", "refund_id": "R-1"}, format="json")
    assert response.status_code == 201, response.content
    response = pos_client.post(url, {}, format="json")  # a brand-wide key refunds any branch's purchase
    assert response.status_code == 201, response.content
    assert balance(member) == 0


# --- expired points are not taken again on a refund -------------------------------------------------------


def test_refund_after_the_purchase_points_expired_reports_them_and_keeps_other_points(pos_client, member,
                                                                                      time_machine):
    factories.give_points(member, 100, key="never-expires", expires_at=None)
    purchase = recorded_purchase(pos_client, member)  # 40 points, valid 365 days
    time_machine.move_to(timezone.now() + timedelta(days=400))
    response = pos_client.post(refund_url(purchase["purchase_id"]), {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_reversed"], body["points_shortfall"]) == (0, 0)
    assert body["details"] == {"points": {"target": 40, "expired": 40, "reversed": 0, "shortfall": 0}}
    assert balance(member) == 100


# --- staff sessions write only as brand managers ----------------------------------------------------------


def staff_session(brand, role, username="staff") -> APIClient:
    client = APIClient()
    client.force_login(factories.staff_user(brands=[brand], username=username, role=role))
    return client


def test_only_a_managers_staff_session_writes_through_the_api(brand, member, pos_client):
    purchase = recorded_purchase(pos_client, member)
    factories.give_points(member, 100, key="for-rewards")
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    cashier = staff_session(brand, StaffAssignment.Role.CASHIER, username="cashier")
    writes = [
        (PURCHASES, purchase_body(member, order_id="CASHIER-1")),
        (refund_url(purchase["purchase_id"]), {}),
        ("/api/v1/redemptions/", {"member": {"code": member.code}, "reward": reward.pk, "request_id": "cashier"}),
    ]
    for url, body in writes:
        with writes_nothing():
            response = cashier.post(url, body, format="json", HTTP_X_BRAND=brand.slug)
        assert_error(response, 403, "permission_denied")
    # reading stays open to cashiers; writing is for managers (and superusers)
    assert cashier.get(f"/api/v1/members/{member.code}/").status_code == 200
    manager = staff_session(brand, StaffAssignment.Role.MANAGER, username="manager")
    response = manager.post(PURCHASES, purchase_body(member, order_id="MANAGER-1"), format="json",
                            HTTP_X_BRAND=brand.slug)
    assert response.status_code == 201, response.content
    root = APIClient()
    root.force_login(factories.staff_user(username="root", superuser=True))
    response = root.post(PURCHASES, purchase_body(member, order_id="ROOT-1"), format="json", HTTP_X_BRAND=brand.slug)
    assert response.status_code == 201, response.content
    assert balance(member) == 140 + 40 + 40
