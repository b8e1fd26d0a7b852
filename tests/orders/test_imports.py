"""Marketplace order imports: the sample files, replays, reversals, progress, admin and command."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from config.domain import ValidationFailed
from loyalty.models import LedgerEntry, PointAccount, Purchase
from loyalty.orders import imports
from loyalty.orders.imports import order_import_create, order_import_process
from loyalty.orders.models import OrderImport, OrderImportRow, PendingOrder
from loyalty.orders.services import shop_integration_create
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.orders.conftest import SAMPLES, paid, post_event

Row = OrderImportRow.Status


def run_import(brand, marketplace, name, django_capture_on_commit_callbacks, data=None, **kwargs) -> OrderImport:
    data = data if data is not None else (SAMPLES / name).read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        created = order_import_create(brand=brand, marketplace=marketplace, data=data, filename=name, **kwargs)
    return OrderImport.objects.get(pk=created.pk)


def report(order_import) -> dict[int, tuple[str, str, int]]:
    return {row.row_number: (row.order_id, row.status, row.points) for row in order_import.rows.all()}


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def test_the_shopee_sample_reports_every_order(brand, sample_members, django_capture_on_commit_callbacks):
    (somchai, nok, malee), phone_only = sample_members
    done = run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    assert done.status == OrderImport.Status.DONE
    assert report(done) == {
        2: ("261101A1B2C3D4", Row.CREDITED, 32),  # two item rows, 800 THB
        4: ("261102B2C3D4E5", Row.SKIPPED, 0),  # masked phone
        5: ("261103C3D4E5F6", Row.CREDITED, 20),
        6: ("261104D4E5F6G7", Row.SKIPPED, 0),  # cancelled, never credited
        7: ("261105E5F6G7H8", Row.SKIPPED, 0),  # to ship
        8: ("261106F6G7H8J9", Row.PENDING, 0),  # nobody has 089-123-4567 yet
        9: ("261107G7H8J9K1", Row.FAILED, 0),  # "1,2OO.OO"
        10: ("261108H8J9K1L2", Row.CREDITED, 12),  # the pending phone-only member
    }
    rows = {row.row_number: row for row in done.rows.all()}
    assert "masked" in rows[4].message and "Rows 2–3" in rows[2].message and "To ship" in rows[7].message
    assert (done.total_rows, done.processed_rows, done.percent) == (8, 8, 100)
    assert (done.credited_count, done.duplicate_count, done.reversed_count, done.pending_count, done.skipped_count,
            done.failed_count) == (3, 0, 0, 1, 3, 1)
    assert (balance(somchai), balance(nok), balance(malee), balance(phone_only)) == (32, 20, 0, 12)
    purchase = Purchase.objects.get(order_id="shopee:261101A1B2C3D4")
    assert purchase.channel == "marketplace" and purchase.lines.count() == 2
    assert PendingOrder.objects.get(status="pending").order_key == "shopee:261106F6G7H8J9"
    assert ledger_mismatches() == []


def test_reimporting_the_same_file_credits_nothing_twice(brand, sample_members, django_capture_on_commit_callbacks):
    run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    entries, purchases = LedgerEntry.objects.count(), Purchase.objects.count()
    again = run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    assert (again.credited_count, again.duplicate_count, again.pending_count) == (0, 3, 1)
    assert {row.status for row in again.rows.filter(row_number__in=[2, 5, 10])} == {Row.DUPLICATE}
    assert LedgerEntry.objects.count() == entries and Purchase.objects.count() == purchases
    assert PendingOrder.objects.filter(status="pending").count() == 1
    assert imports.order_import_previous(order_import=again).sha256 == again.sha256


def test_a_later_export_reverses_refunded_orders_and_credits_newly_completed_ones(
        brand, sample_members, django_capture_on_commit_callbacks):
    (somchai, nok, malee), _phone_only = sample_members
    run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    update = run_import(brand, "shopee", "shopee_orders_update_sample.csv", django_capture_on_commit_callbacks)
    assert report(update) == {
        2: ("261101A1B2C3D4", Row.DUPLICATE, 0),
        4: ("261103C3D4E5F6", Row.REVERSED, -20),
        5: ("261105E5F6G7H8", Row.CREDITED, 16),
    }
    assert (balance(somchai), balance(nok), balance(malee)) == (32, 0, 16)
    again = run_import(brand, "shopee", "shopee_orders_update_sample.csv", django_capture_on_commit_callbacks)
    assert report(again)[4][1] == Row.DUPLICATE and report(again)[5][1] == Row.DUPLICATE
    assert balance(nok) == 0
    assert ledger_mismatches() == []


def test_the_lazada_sample_earns_only_delivered_items(brand, sample_members, django_capture_on_commit_callbacks):
    (somchai, nok, malee), _phone_only = sample_members
    done = run_import(brand, "lazada", "lazada_orders_sample.csv", django_capture_on_commit_callbacks)
    assert report(done) == {
        2: ("300100200300401", Row.CREDITED, 19),  # 299 + 199 THB
        4: ("300100200300402", Row.CREDITED, 40),  # 1000 THB delivered, the 200 THB item returned
        6: ("300100200300403", Row.SKIPPED, 0),
        7: ("300100200300404", Row.SKIPPED, 0),
        8: ("300100200300405", Row.PENDING, 0),  # masked phone, but an e-mail
    }
    assert Purchase.objects.get(order_id="lazada:300100200300402").total == Decimal("1000.00")
    assert PendingOrder.objects.get(status="pending").email == "newshopper@example.com"
    assert (balance(somchai), balance(malee)) == (40, 19)


def test_the_tiktok_sample_skips_the_description_row_and_deducts_refunds(brand, sample_members,
                                                                        django_capture_on_commit_callbacks):
    (somchai, nok, _malee), _phone_only = sample_members
    done = run_import(brand, "tiktok", "tiktok_orders_sample.csv", django_capture_on_commit_callbacks)
    assert report(done) == {
        3: ("577000111222333441", Row.CREDITED, 35),
        4: ("577000111222333442", Row.CREDITED, 48),  # 1500 − 300 refunded
        6: ("577000111222333443", Row.SKIPPED, 0),
        7: ("577000111222333444", Row.SKIPPED, 0),
        8: ("577000111222333445", Row.SKIPPED, 0),
    }
    assert done.total_rows == 5
    assert (balance(nok), balance(somchai)) == (35, 48)


def tiktok_file(rows: list[list[str]]) -> bytes:
    header = ["Order ID", "Order Status", "Order Amount", "Order Refund Amount", "Paid Time", "Phone #"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def test_a_refund_seen_in_a_later_export_is_reversed_once(brand, sample_members, django_capture_on_commit_callbacks):
    (somchai, _nok, _malee), _phone_only = sample_members
    first = tiktok_file([["577001", "Completed", "1000.00", "0", "11/02/2026 2:23:44 PM", "0812345671"]])
    run_import(brand, "tiktok", "t1.csv", django_capture_on_commit_callbacks, data=first)
    assert balance(somchai) == 40
    later = tiktok_file([["577001", "Completed", "1000.00", "250.00", "11/02/2026 2:23:44 PM", "0812345671"]])
    partly = run_import(brand, "tiktok", "t2.csv", django_capture_on_commit_callbacks, data=later)
    assert report(partly)[2] == ("577001", Row.REVERSED, -10)
    again = run_import(brand, "tiktok", "t2.csv", django_capture_on_commit_callbacks, data=later)
    assert report(again)[2][1] == Row.DUPLICATE
    cancelled = tiktok_file([["577001", "Cancelled", "1000.00", "1000.00", "11/02/2026 2:23:44 PM", "0812345671"]])
    reversed_import = run_import(brand, "tiktok", "t3.csv", django_capture_on_commit_callbacks, data=cancelled)
    assert report(reversed_import)[2] == ("577001", Row.REVERSED, -30)
    assert balance(somchai) == 0
    assert ledger_mismatches() == []


def test_an_imported_pending_order_is_credited_when_its_buyer_registers(brand, sample_members,
                                                                       django_capture_on_commit_callbacks):
    from loyalty import events

    run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    newcomer = factories.MemberFactory(brand=brand, phone="+66891234567")
    with django_capture_on_commit_callbacks(execute=True):
        events.emit(events.MEMBER_REGISTERED, member_id=newcomer.pk)
    assert balance(newcomer) == 40
    again = run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    assert report(again)[8][1] == Row.DUPLICATE


def test_a_marketplace_order_from_the_webhook_and_the_import_earns_once(client, brand, sample_members,
                                                                       django_capture_on_commit_callbacks):
    (somchai, _nok, _malee), _phone_only = sample_members
    shopee_store = shop_integration_create(brand=brand, name="Shopee store", kind="shopee")
    response = post_event(client, shopee_store, paid(order_id="261101A1B2C3D4", total="800.00", phone="0812345671"))
    assert response.status_code == 201
    done = run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks,
                      integration=shopee_store)
    assert report(done)[2][1] == Row.DUPLICATE
    assert Purchase.objects.filter(order_id="shopee:261101A1B2C3D4").count() == 1
    assert balance(somchai) == 32


@pytest.mark.parametrize("marketplace,data,message", [
    ("shopee", (SAMPLES / "lazada_orders_sample.csv").read_bytes(), "No header row"),
    ("lazada", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old Excel"),
    ("tiktok", b"PK\x03\x04 not really a zip", "not a readable XLSX"),
    ("tiktok", b"\xff\xfe\x00\x00\x00binary", "neither XLSX"),
    ("shopee", b"", "empty"),
    ("shopee", b"Order ID,Something\n1,2\n", "Missing columns"),
])
def test_a_file_that_cannot_be_imported_is_refused_at_upload(brand, marketplace, data, message):
    with pytest.raises(ValidationFailed) as refused:
        order_import_create(brand=brand, marketplace=marketplace, data=data, filename="x.csv")
    assert message in str(refused.value.fields)
    assert OrderImport.objects.count() == 0


def test_a_store_of_another_brand_or_marketplace_is_refused(brand, other_brand):
    lazada_store = shop_integration_create(brand=brand, name="Lazada", kind="lazada")
    with pytest.raises(ValidationFailed):
        order_import_create(brand=brand, marketplace="shopee", integration=lazada_store,
                            data=(SAMPLES / "shopee_orders_update_sample.csv").read_bytes(), filename="x.csv")
    foreign = shop_integration_create(brand=other_brand, name="Shopee", kind="shopee")
    with pytest.raises(ValidationFailed):
        order_import_create(brand=brand, marketplace="shopee", integration=foreign,
                            data=(SAMPLES / "shopee_orders_update_sample.csv").read_bytes(), filename="x.csv")


def test_progress_is_written_per_batch_and_a_crashed_import_resumes_without_repeating(
        brand, sample_members, monkeypatch):
    """With batches of 2, a crash in the third batch leaves 4 orders reported; the rerun does the rest once."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    data = (SAMPLES / "shopee_orders_sample.xlsx").read_bytes()
    created = order_import_create(brand=brand, marketplace="shopee", data=data, filename="s.xlsx")  # not committed
    original_apply, calls = imports._apply, []

    def crash_on_fifth(order_import, order):
        calls.append(order.order_id)
        if len(calls) == 5:
            raise RuntimeError("worker lost")
        return original_apply(order_import, order)

    monkeypatch.setattr(imports, "_apply", crash_on_fifth)
    with pytest.raises(RuntimeError):
        order_import_process(import_id=created.pk)
    halfway = OrderImport.objects.get(pk=created.pk)
    assert (halfway.status, halfway.processed_rows, halfway.total_rows) == (OrderImport.Status.RUNNING, 4, 8)
    assert halfway.percent == 50

    monkeypatch.setattr(imports, "_apply", original_apply)
    finished = order_import_process(import_id=created.pk)
    assert (finished.status, finished.processed_rows, finished.credited_count) == (OrderImport.Status.DONE, 8, 3)
    assert finished.rows.count() == 8
    assert Purchase.objects.count() == 3
    assert order_import_process(import_id=created.pk).processed_rows == 8  # a late duplicate task does nothing
    assert ledger_mismatches() == []


@pytest.fixture
def import_staff(brand):
    user = factories.staff_user(brands=[brand], username="importer")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders"))
    return user


def test_staff_upload_in_admin_and_see_the_progress_bar_and_report(client, brand, sample_members, import_staff,
                                                                  django_capture_on_commit_callbacks):
    client.force_login(import_staff)
    form = client.get("/admin/orders/orderimport/add/")
    assert form.status_code == 200 and b'name="upload"' in form.content
    upload = SimpleUploadedFile("Order.all.20261101_20261108.xlsx",
                                (SAMPLES / "shopee_orders_sample.xlsx").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/orders/orderimport/add/",
                               {"brand": brand.pk, "marketplace": "shopee", "upload": upload})
    assert response.status_code == 302, response.content[:3000]
    order_import = OrderImport.objects.get()
    assert response["Location"].endswith(f"/admin/orders/orderimport/{order_import.pk}/change/")
    assert order_import.created_by == import_staff
    page = client.get(response["Location"]).content.decode()
    assert '<progress value="8" max="8"' in page
    assert 'data-testid="import-report"' in page and "261106F6G7H8J9" in page and "masked" in page
    assert 'http-equiv="refresh"' not in page  # finished: no more polling

    OrderImport.objects.filter(pk=order_import.pk).update(status=OrderImport.Status.RUNNING, processed_rows=3)
    running = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in running and '<progress value="3" max="8"' in running


def test_the_upload_form_refuses_a_wrong_file_with_a_message(client, brand, import_staff):
    client.force_login(import_staff)
    upload = SimpleUploadedFile("orders.csv", (SAMPLES / "lazada_orders_sample.csv").read_bytes())
    response = client.post("/admin/orders/orderimport/add/",
                           {"brand": brand.pk, "marketplace": "tiktok", "upload": upload})
    assert response.status_code == 200
    assert "No header row" in response.content.decode()
    assert OrderImport.objects.count() == 0


def test_staff_of_another_brand_see_neither_the_import_nor_the_brand(client, brand, other_brand, sample_members,
                                                                    django_capture_on_commit_callbacks):
    done = run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    outsider = factories.staff_user(brands=[other_brand], username="outsider")
    outsider.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders"))
    client.force_login(outsider)
    assert client.get(f"/admin/orders/orderimport/{done.pk}/change/").status_code == 302  # "does not exist"
    assert "261101A1B2C3D4" not in client.get("/admin/orders/orderimportrow/").content.decode()
    upload = SimpleUploadedFile("s.xlsx", (SAMPLES / "shopee_orders_sample.xlsx").read_bytes())
    refused = client.post("/admin/orders/orderimport/add/", {"brand": brand.pk, "marketplace": "shopee",
                                                             "upload": upload})
    assert refused.status_code == 200 and OrderImport.objects.count() == 1


def test_a_new_integration_shows_its_secret_once(client, brand, import_staff):
    client.force_login(import_staff)
    response = client.post("/admin/orders/shopintegration/add/", {"brand": brand.pk, "name": "Web shop",
                                                                  "kind": "webshop", "match_email": "on",
                                                                  "is_active": "on"}, follow=True)
    from loyalty.orders.models import ShopIntegration

    integration = ShopIntegration.objects.get()
    assert integration.secret in response.content.decode()
    assert integration.created_by == import_staff
    change = client.get(f"/admin/orders/shopintegration/{integration.pk}/change/")
    assert integration.secret not in change.content.decode()


def test_the_management_command_imports_a_sample(brand, sample_members):
    out = io.StringIO()
    call_command("orders_import", str(SAMPLES / "lazada_orders_sample.csv"), brand=brand.slug, marketplace="lazada",
                 stdout=out)
    text = out.getvalue()
    assert "credited 2" in text and "300100200300402" in text
    call_command("orders_import", str(SAMPLES / "lazada_orders_sample.csv"), brand=brand.slug, marketplace="lazada",
                 stdout=out)
    assert "credited 0, already credited 2" in out.getvalue()
    assert Purchase.objects.count() == 2


def test_a_failed_import_is_marked_failed_and_can_be_processed_again(brand, sample_members, monkeypatch,
                                                                    django_capture_on_commit_callbacks):
    from loyalty.orders.tasks import process_order_import

    data = (SAMPLES / "shopee_orders_sample.xlsx").read_bytes()
    created = order_import_create(brand=brand, marketplace="shopee", data=data, filename="s.xlsx")
    original_apply = imports._apply

    def broken(order_import, order):
        if order.order_id == "261106F6G7H8J9":
            raise RuntimeError("a bug")
        return original_apply(order_import, order)

    monkeypatch.setattr(imports, "_apply", broken)
    with pytest.raises(RuntimeError):
        process_order_import.delay(created.pk)
    failed = OrderImport.objects.get(pk=created.pk)
    assert failed.status == OrderImport.Status.FAILED and "RuntimeError: a bug" in failed.error
    assert failed.is_finished

    monkeypatch.setattr(imports, "_apply", original_apply)
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.order_import_retry(order_import=failed) is True
    done = OrderImport.objects.get(pk=created.pk)
    assert (done.status, done.processed_rows, done.credited_count, done.error) == (OrderImport.Status.DONE, 8, 3, "")
    assert imports.order_import_retry(order_import=done) is False
    assert Purchase.objects.count() == 3


def test_the_orders_staff_pages_render(client, brand, sample_members, import_staff,
                                       django_capture_on_commit_callbacks):
    run_import(brand, "shopee", "shopee_orders_sample.xlsx", django_capture_on_commit_callbacks)
    client.force_login(import_staff)
    for page in ("shopintegration", "pendingorder", "orderimport", "orderimportrow"):
        assert client.get(f"/admin/orders/{page}/").status_code == 200, page
    assert client.get("/admin/orders/shopintegration/add/").status_code == 200
    pending = PendingOrder.objects.filter(status="pending").get()
    assert client.get(f"/admin/orders/pendingorder/{pending.pk}/change/").status_code == 200


def test_semicolon_csv_in_thai_windows_encoding_is_read(brand, sample_members, django_capture_on_commit_callbacks):
    text = ("Order ID;Order Status;Total Amount;Order Creation Date;Phone Number;Product Name\r\n"
            "261201ZZ;สำเร็จแล้ว;1,000.00;01/11/2569 10:00;081-234-5671;กาแฟ\r\n")
    done = run_import(brand, "shopee", "th.csv", django_capture_on_commit_callbacks, data=text.encode("cp874"))
    row = done.rows.get()
    assert (row.status, row.points) == (Row.CREDITED, 40), row.message
    assert Purchase.objects.get().purchased_at.isoformat() == "2026-11-01T03:00:00+00:00"  # Buddhist era, Bangkok
