"""The signed order webhook: signatures, replays, refunds, pending orders and races."""

import json
import logging
import re
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from loyalty import events
from loyalty.models import LedgerEntry, PointAccount, Purchase, PurchaseRefund
from loyalty.orders.models import PendingOrder, ShopIntegration
from loyalty.orders.services import pending_orders_sweep, shop_integration_create
from loyalty.orders.webhook import signature_for
from loyalty.services.verification import ledger_mismatches
from members.models import Member
from tests import factories
from tests.orders.conftest import paid, post_event


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def registered(member, django_capture_on_commit_callbacks):
    """What member registration announces, delivered after commit as in production."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit(events.MEMBER_REGISTERED, member_id=member.pk)


def test_a_paid_order_with_a_good_signature_credits_the_member_and_a_replay_writes_nothing(
        client, webshop, shop_member):
    first = post_event(client, webshop, paid())
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "credited" and body["created"] is True and body["points"] == 40
    assert body["member_code"] == shop_member.code
    purchase = Purchase.objects.get()
    assert (purchase.channel, purchase.order_id, purchase.total) == ("ecommerce", f"{webshop.pk}:W-1001",
                                                                     Decimal("1000.00"))
    entries = LedgerEntry.objects.count()

    replay = post_event(client, webshop, paid())
    assert replay.status_code == 200
    assert replay.json() == {**body, "created": False}
    assert Purchase.objects.count() == 1 and LedgerEntry.objects.count() == entries
    assert balance(shop_member) == 40
    assert ledger_mismatches() == []


@pytest.mark.parametrize("case", ["wrong secret", "missing header", "tampered body", "other scheme", "empty"])
def test_a_bad_or_missing_signature_is_rejected_with_401_and_nothing_is_stored(client, webshop, shop_member,
                                                                             caplog, case):
    body = json.dumps(paid()).encode()
    signature = {
        "wrong secret": signature_for("not-the-secret", body),
        "missing header": "",
        "tampered body": signature_for(webshop.secret, body.replace(b"1000.00", b"9000.00")),
        "other scheme": signature_for(webshop.secret, body).replace("sha256=", "sha1="),
        "empty": "sha256=",
    }[case]
    with caplog.at_level(logging.WARNING, logger="taem.security"):
        response = post_event(client, webshop, {}, raw=body, signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert Purchase.objects.count() == 0 and PendingOrder.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert any("bad or missing signature" in record.getMessage() for record in caplog.records)


def test_unknown_and_inactive_integrations_answer_like_a_bad_signature(client, webshop, shop_member):
    ShopIntegration.objects.filter(pk=webshop.pk).update(is_active=False)
    assert post_event(client, webshop, paid()).status_code == 401
    webshop.pk = 999_999
    assert post_event(client, webshop, paid()).status_code == 401
    assert Purchase.objects.count() == 0


def test_repeated_bad_signatures_from_one_address_are_rate_limited(client, webshop, shop_member, settings):
    settings.ORDERS_WEBHOOK_FAILURES_PER_10_MINUTES = 3
    for _ in range(3):
        assert post_event(client, webshop, paid(), secret="guess").status_code == 401
    blocked = post_event(client, webshop, paid())  # even a valid one, from this address, for a while
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "rate_limited"
    assert Purchase.objects.count() == 0
    other_address = post_event(client, webshop, paid(), ip="198.51.100.9")
    assert other_address.status_code == 201


def test_a_full_refund_reverses_the_points_and_its_replay_writes_nothing(client, webshop, shop_member):
    post_event(client, webshop, paid())
    refunded = post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001"})
    assert refunded.status_code == 201, refunded.content
    assert refunded.json()["status"] == "refunded" and refunded.json()["points"] == -40
    assert balance(shop_member) == 0
    assert Purchase.objects.get().status == Purchase.Status.REFUNDED
    entries = LedgerEntry.objects.count()
    replay = post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001"})
    assert replay.status_code == 200 and replay.json()["created"] is False
    cancelled_too = post_event(client, webshop, {"event": "order.cancelled", "order_id": "W-1001"})
    assert cancelled_too.status_code == 200 and cancelled_too.json()["status"] == "refunded"
    assert LedgerEntry.objects.count() == entries and PurchaseRefund.objects.count() == 1
    assert ledger_mismatches() == []


def test_partial_refunds_reverse_pro_rata_once_each(client, webshop, shop_member):
    post_event(client, webshop, paid())
    first = post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001", "refund_amount": "250.00",
                                         "refund_id": "R-1"})
    assert first.status_code == 201 and first.json()["points"] == -10
    assert post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001",
                                        "refund_amount": "250.00", "refund_id": "R-1"}).status_code == 200
    second = post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001",
                                          "refund_amount": "250.00", "refund_id": "R-2"})
    assert second.status_code == 201
    assert balance(shop_member) == 20
    purchase = Purchase.objects.get()
    assert (purchase.refunded_total, purchase.status) == (Decimal("500.00"), Purchase.Status.PARTIALLY_REFUNDED)
    too_much = post_event(client, webshop, {"event": "order.refunded", "order_id": "W-1001",
                                            "refund_amount": "600.00", "refund_id": "R-3"})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "refund_exceeds_total"
    cancelled = post_event(client, webshop, {"event": "order.cancelled", "order_id": "W-1001"})
    assert cancelled.status_code == 201 and balance(shop_member) == 0
    assert ledger_mismatches() == []


def test_a_partial_refund_without_ids_is_keyed_by_its_amount(client, webshop, shop_member):
    post_event(client, webshop, paid())
    event = {"event": "order.refunded", "order_id": "W-1001", "refund_amount": "100.00"}
    assert post_event(client, webshop, event).status_code == 201
    assert post_event(client, webshop, event).status_code == 200
    assert PurchaseRefund.objects.get().refund_id == "webhook:refund:100.00"


def test_an_unmatched_customer_waits_and_is_credited_exactly_once_when_registered(
        client, webshop, brand, django_capture_on_commit_callbacks):
    response = post_event(client, webshop, paid(phone="089-123-4567"))
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert post_event(client, webshop, paid(phone="089-123-4567")).json() == {
        "status": "pending", "created": False, "order_id": "W-1001"}
    pending = PendingOrder.objects.get()
    assert (pending.phone, pending.order_key, pending.status) == ("+66891234567", f"{webshop.pk}:W-1001", "pending")
    assert Purchase.objects.count() == 0

    member = factories.MemberFactory(brand=brand, phone="+66891234567")
    registered(member, django_capture_on_commit_callbacks)
    registered(member, django_capture_on_commit_callbacks)  # a second announcement changes nothing
    pending.refresh_from_db()
    assert pending.status == PendingOrder.Status.CREDITED and pending.member == member
    assert Purchase.objects.get().member == member
    assert balance(member) == 40 and LedgerEntry.objects.count() == 1
    replay = post_event(client, webshop, paid(phone="089-123-4567"))
    assert replay.status_code == 200 and replay.json()["status"] == "credited"
    assert ledger_mismatches() == []


@pytest.mark.parametrize("customer,member_fields", [
    ({"email": "Nok@Example.com"}, {"email": "nok@example.com", "phone": None}),
    ({"line_user_id": "U" + "a" * 32}, {"line_user_id": "U" + "a" * 32, "phone": None}),
])
def test_pending_orders_are_matched_by_email_or_line_user_id(client, webshop, brand, customer, member_fields,
                                                            django_capture_on_commit_callbacks):
    payload = paid(phone=None)
    payload["customer"] = customer
    assert post_event(client, webshop, payload).json()["status"] == "pending"
    member = factories.MemberFactory(brand=brand, **member_fields)
    registered(member, django_capture_on_commit_callbacks)
    assert balance(member) == 40


def test_an_integration_that_does_not_trust_emails_never_credits_by_email(client, brand,
                                                                         django_capture_on_commit_callbacks):
    shop = shop_integration_create(brand=brand, name="Strict shop", match_email=False)
    factories.MemberFactory(brand=brand, email="nok@example.com")
    payload = paid(phone=None)
    payload["customer"] = {"email": "nok@example.com"}
    assert post_event(client, shop, payload).json()["status"] == "pending"
    newcomer = factories.MemberFactory(brand=brand, email="nok2@example.com")
    registered(newcomer, django_capture_on_commit_callbacks)
    assert Purchase.objects.count() == 0


def test_registration_through_the_portal_credits_the_waiting_order(client, webshop, django_capture_on_commit_callbacks,
                                                                  fake_line, settings):
    from members import sms

    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    sms.outbox.clear()
    from tests.liff.conftest import LOGIN_CHANNEL, liff_login, publish

    brand = webshop.brand
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    terms, privacy = publish(brand, "terms"), publish(brand, "privacy")
    shop_client = Client()
    assert post_event(shop_client, webshop, paid(phone="081-555-0001")).json()["status"] == "pending"
    member = liff_login(client, fake_line, brand, "U" + "7" * 32)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/liff/{brand.slug}/register/", {"phone": "0815550001", "action": "send_code"})
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/liff/{brand.slug}/register/", {
            "first_name": "Malee", "last_name": "Srisuk", "phone": "0815550001", "code": code,
            "consents": [terms.pk, privacy.pk], "language": "th", "action": "register"})
    assert response.status_code == 302, response.content[:1000]
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert balance(member) == 40
    assert PendingOrder.objects.get().status == PendingOrder.Status.CREDITED


def test_a_refund_for_a_pending_order_cancels_it(client, webshop, brand, django_capture_on_commit_callbacks):
    post_event(client, webshop, paid(phone="089-123-4567"))
    response = post_event(client, webshop, {"event": "order.cancelled", "order_id": "W-1001"})
    assert response.status_code == 201 and response.json()["status"] == "cancelled"
    member = factories.MemberFactory(brand=brand, phone="+66891234567")
    registered(member, django_capture_on_commit_callbacks)
    assert PendingOrder.objects.get().status == PendingOrder.Status.CANCELLED
    assert Purchase.objects.count() == 0 and balance(member) == 0


def test_a_partial_refund_while_pending_is_applied_when_credited(client, webshop, brand,
                                                                django_capture_on_commit_callbacks):
    post_event(client, webshop, paid(phone="089-123-4567"))
    event = {"event": "order.refunded", "order_id": "W-1001", "refund_amount": "250.00", "refund_id": "R-9"}
    assert post_event(client, webshop, event).json()["status"] == "pending"
    assert post_event(client, webshop, event).status_code == 200
    member = factories.MemberFactory(brand=brand, phone="+66891234567")
    registered(member, django_capture_on_commit_callbacks)
    assert balance(member) == 30  # 40 earned, 10 reversed for 250 of 1000 THB
    assert post_event(client, webshop, event).status_code == 200  # the same refund, now on the purchase
    assert balance(member) == 30 and PurchaseRefund.objects.count() == 1
    assert ledger_mismatches() == []


def test_a_cancellation_that_arrives_before_the_payment_prevents_the_credit(client, webshop, shop_member):
    early = post_event(client, webshop, {"event": "order.cancelled", "order_id": "W-1001"})
    assert early.status_code == 201 and early.json()["status"] == "cancelled"
    late = post_event(client, webshop, paid())
    assert late.status_code == 200 and late.json()["status"] == "cancelled"
    assert Purchase.objects.count() == 0 and balance(shop_member) == 0


def test_a_partial_refund_of_an_unknown_order_changes_nothing(client, webshop):
    response = post_event(client, webshop, {"event": "order.refunded", "order_id": "NOPE", "refund_amount": "5.00"})
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert PendingOrder.objects.count() == 0


def test_a_suspended_member_is_not_credited(client, webshop, shop_member):
    Member.objects.filter(pk=shop_member.pk).update(status=Member.Status.SUSPENDED)
    response = post_event(client, webshop, paid())
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("not_credited", "member_inactive")
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("payload,field", [
    ({"event": "order.paid", "order_id": "X1", "customer": {"phone": "0812223344"}}, "total"),
    ({"event": "order.paid", "order_id": "X1", "total": "10.00"}, "customer"),
    ({"event": "order.paid", "order_id": "X1", "total": "10.00", "customer": {"phone": "12"}}, "customer"),
    ({"event": "order.shipped", "order_id": "X1"}, "event"),
    ({"event": "order.paid", "order_id": "has space", "total": "1", "customer": {"phone": "0812223344"}}, "order_id"),
    ({"event": "order.paid", "order_id": "X1", "total": "-1", "customer": {"phone": "0812223344"}}, "total"),
])
def test_invalid_events_are_answered_with_the_json_error_shape(client, webshop, shop_member, payload, field):
    response = post_event(client, webshop, payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert Purchase.objects.count() == 0 and PendingOrder.objects.count() == 0


def test_a_body_that_is_not_json_is_a_json_error(client, webshop):
    response = post_event(client, webshop, {}, raw=b"not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    assert client.get(f"/integrations/orders/{webshop.pk}/").status_code == 405


def test_a_rotated_secret_replaces_the_old_one(client, webshop, shop_member):
    from loyalty.orders.services import shop_integration_rotate_secret

    old = webshop.secret
    new = shop_integration_rotate_secret(integration=webshop)
    assert new != old and ShopIntegration.objects.get(pk=webshop.pk).secret == new
    assert post_event(client, webshop, paid(), secret=old).status_code == 401
    assert post_event(client, webshop, paid(), secret=new).status_code == 201


def test_the_secret_is_stored_encrypted(webshop):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM orders_shopintegration WHERE id = %s", [webshop.pk])
        stored = cursor.fetchone()[0]
    assert webshop.secret.startswith("whsec_") and webshop.secret not in stored


def test_the_pending_sweep_credits_an_order_whose_member_registered_meanwhile(client, webshop, brand):
    post_event(client, webshop, paid(phone="089-123-4567"))
    member = factories.MemberFactory(brand=brand, phone="+66891234567")  # registered without the event reaching us
    assert pending_orders_sweep() == 1
    assert pending_orders_sweep() == 0
    assert balance(member) == 40


def _deliver_concurrently(integration, payload, copies=2):
    body = json.dumps(payload).encode()
    signature = signature_for(integration.secret, body)
    barrier = threading.Barrier(copies)
    statuses, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=30)
            response = Client().post(f"/integrations/orders/{integration.pk}/", data=body,
                                     content_type="application/json", HTTP_X_TAEM_SIGNATURE=signature)
            statuses.append(response.status_code)
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, daemon=True) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_delivered_twice_at_once_records_one_purchase():
    brand = factories.brand_with_program()
    member = factories.MemberFactory(brand=brand, phone="+66812223344")
    shop = shop_integration_create(brand=brand, name="Race shop")
    assert _deliver_concurrently(shop, paid(order_id="RACE-1")) == [200, 201]
    assert Purchase.objects.filter(brand=brand).count() == 1
    assert LedgerEntry.objects.filter(brand=brand).count() == 1
    assert balance(member) == 40
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_the_same_unmatched_webhook_delivered_twice_at_once_keeps_one_pending_order():
    brand = factories.brand_with_program()
    shop = shop_integration_create(brand=brand, name="Race shop")
    assert _deliver_concurrently(shop, paid(order_id="RACE-2", phone="0891234567")) == [200, 201]
    assert PendingOrder.objects.filter(brand=brand).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_the_paid_event_never_leaves_points_for_a_cancelled_order(monkeypatch):
    """The paid event pauses after matching the member while the cancel lands: no points stay."""
    from django.utils import timezone

    from loyalty.orders import services
    from loyalty.orders.models import PendingOrder
    from loyalty.services.verification import ledger_mismatches

    brand = factories.brand_with_program(slug="race-shop")
    member = factories.MemberFactory(brand=brand, phone="+66812223344")
    integration = services.shop_integration_create(brand=brand, name="shop")
    channel, key = services.order_channel_and_key(integration=integration, order_id="W-1")
    real_match = services.member_match
    matched, cancelled = threading.Event(), threading.Event()

    def slow_match(**kwargs):
        found = real_match(**kwargs)
        if threading.current_thread().name == "paid":
            matched.set()
            cancelled.wait(10)
        return found

    monkeypatch.setattr(services, "member_match", slow_match)

    def paid():
        try:
            services.order_paid(brand=brand, channel=channel, order_key=key, integration=integration,
                                order=services.OrderInput(order_id="W-1", total=Decimal("1000"),
                                                          paid_at=timezone.now(),
                                                          customer=services.Customer(phone="+66812223344")))
        finally:
            connection.close()

    def cancel():
        matched.wait(10)
        try:
            services.order_refunded(brand=brand, channel=channel, order_key=key, order_id="W-1",
                                    refund_id="webhook:cancelled", integration=integration)
        finally:
            cancelled.set()
            connection.close()

    threads = [threading.Thread(target=paid, name="paid"), threading.Thread(target=cancel, name="cancel")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert PendingOrder.objects.get(order_key=key).status == PendingOrder.Status.CANCELLED
    account = PointAccount.objects.filter(member=member).first()
    assert account is None or account.balance == 0
    assert ledger_mismatches() == []
