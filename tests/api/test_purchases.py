import threading
from decimal import Decimal

import pytest
from django.db import connection

from loyalty.models import LedgerEntry, Purchase
from loyalty.services.verification import ledger_mismatches
from members.models import Member
from tests import factories
from tests.api.payloads import purchase_body

URL = "/api/v1/purchases/"




def test_purchase_earns_points_by_the_brand_rule(pos_client, member):
    response = pos_client.post(URL, purchase_body(member, total="1260.00"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points_earned"] == 50  # 1260 / 25 = 50.4, rounded down
    assert body["balance"] == 50
    assert body["earned"] == [{"currency": "points", "points": 50, "balance": 50}]
    purchase = Purchase.objects.get(pk=body["purchase_id"])
    assert purchase.total == Decimal("1260.00")
    assert purchase.branch.code == "MAIN"
    assert list(purchase.lines.values_list("sku", "quantity")) == [("LATTE", 1)]


def test_replayed_order_answers_200_with_the_same_body_and_writes_nothing(pos_client, member):
    first = pos_client.post(URL, purchase_body(member), format="json")
    factories.give_points(member, 7, key="between")  # the balance moves between the two calls
    again = pos_client.post(URL, purchase_body(member), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count() == 1


def test_replay_with_different_total_is_an_idempotency_conflict(pos_client, member):
    pos_client.post(URL, purchase_body(member), format="json")
    response = pos_client.post(URL, purchase_body(member, total="99.00"), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert "order_id" in response.json()["error"]["fields"]


def test_unknown_phone_creates_a_pending_member_who_keeps_the_points(pos_client, brand):
    body = purchase_body(factories.MemberFactory.build(brand=brand), total="500")
    body["member"] = {"phone": "081-999-8888"}
    response = pos_client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    member = Member.objects.get(brand=brand, phone="+66819998888")
    assert member.status == Member.Status.PENDING
    assert member.user is None
    assert member.accounts.get().balance == 20


@pytest.mark.django_db(transaction=True)
def test_replaying_a_purchase_20_times_concurrently_writes_one_purchase_and_one_entry():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand)
    _key, raw = factories.api_key(brand=brand)
    body = purchase_body(member, order_id="RACE-1", total="1000.00")
    barrier = threading.Barrier(20)
    statuses, bodies = [], []
    lock = threading.Lock()

    def post():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        barrier.wait()
        try:
            response = client.post(URL, body, format="json")
            with lock:
                statuses.append(response.status_code)
                bodies.append(response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 19 + [201]
    assert all(b == bodies[0] for b in bodies)
    assert Purchase.objects.filter(brand=brand, order_id="RACE-1").count() == 1
    assert LedgerEntry.objects.filter(brand=brand, kind=LedgerEntry.Kind.EARN).count() == 1
    assert member.accounts.get().balance == 40
    assert ledger_mismatches() == []


def test_purchase_serializers_share_their_bound_fields_without_sharing_request_state():
    """FieldsBoundOnce: one bound copy of the fields per class; every validation keeps its own data,
    results and errors, also from many threads at once (gunicorn's gthread workers)."""
    import threading
    from decimal import Decimal

    from loyalty.api.serializers import PurchaseInputSerializer

    assert PurchaseInputSerializer().fields is PurchaseInputSerializer(data={}).fields

    def body(number: int) -> dict:
        return {"order_id": f" O-{number} ", "member": {"code": f"M{number}"}, "total": f"{number}.50",
                "lines": [{"sku": f"S{number}", "amount": f"{number}.50"}]}

    failures = []

    def validate(start: int) -> None:
        for number in range(start, start + 300):
            good = PurchaseInputSerializer(data=body(number))
            bad = PurchaseInputSerializer(data={**body(number), "member": {"code": "A", "phone": "0812345678"},
                                                "lines": [{"amount": "-1"}]})
            if not good.is_valid() or bad.is_valid():
                failures.append((number, good.errors, bad.errors))
                continue
            values = good.validated_data
            if (values["order_id"], values["member"]["code"], values["total"], values["lines"][0]["sku"]) != (
                    f"O-{number}", f"M{number}", Decimal(f"{number}.50"), f"S{number}"):
                failures.append((number, values))
            if set(bad.errors) != {"member", "lines"}:
                failures.append((number, bad.errors))

    threads = [threading.Thread(target=validate, args=(index * 1000 + 1,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_member_and_the_branch_of_a_purchase_are_read_in_one_query(pos_client, member):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as statements:
        response = pos_client.post(URL, purchase_body(member), format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().branch.code == "MAIN"
    branch_reads = [query["sql"] for query in statements.captured_queries
                    if '"members_branch"' in query["sql"] and '"members_apikey"' not in query["sql"]]  # not the key's
    assert len(branch_reads) == 1 and '"members_member"' in branch_reads[0]


@pytest.mark.parametrize(("member_code", "branch", "code"), [
    ("known", "NOPE", "branch_not_found"),  # the member is found, the branch is not
    ("known", "CLOSED", "branch_not_found"),  # an inactive branch
    ("NOSUCH", "MAIN", "member_not_found"),
    ("NOSUCH", "NOPE", "branch_not_found"),  # both wrong: the branch is reported first, as before
])
def test_a_purchase_naming_an_unknown_member_or_branch_is_refused_and_writes_nothing(pos_client, member, member_code,
                                                                                   branch, code):
    from members.models import Branch

    Branch.objects.create(brand=member.brand, code="CLOSED", name="ปิดแล้ว", is_active=False)
    body = purchase_body(member, branch=branch)
    if member_code != "known":
        body["member"] = {"code": member_code}
    response = pos_client.post(URL, body, format="json")
    assert response.status_code in {400, 404}, response.content
    assert response.json()["error"]["code"] == code
    assert not Purchase.objects.exists()
