"""Staff create batches in admin and download them as CSV and PDF labels; only their brand's."""

import csv
import io
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.utils import timezone

from loyalty.claims import exports
from loyalty.claims.codes import code_digest, code_normalise
from loyalty.claims.models import ClaimBatch, ClaimCode
from loyalty.claims.services import claim_code_redeem
from tests import factories
from tests.claims.conftest import claims_staff


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


@pytest.fixture
def staff_client(client, brand):
    client.force_login(claims_staff(brands=[brand]))
    return client


def add_form(brand, **values):
    now = timezone.localtime()
    data = {"brand": brand.pk, "currency": brand.currencies.get().pk, "name": "Songkran bottle caps",
            "points": 5, "sku": "WATER-600", "campaign": "Songkran", "valid_from_0": now.date().isoformat(),
            "valid_from_1": "00:00:00", "valid_until_0": "", "valid_until_1": "", "per_member_limit": "",
            "quantity": 60}
    data.update(values)
    return data


def test_staff_create_a_batch_and_land_on_its_downloads(staff_client, brand):
    response = staff_client.post("/admin/claims/claimbatch/add/", add_form(brand))
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = ClaimBatch.objects.get()
    assert response["Location"] == f"/admin/claims/claimbatch/{batch.pk}/change/"
    assert ClaimCode.objects.filter(batch=batch).count() == 60
    assert batch.created_by.username == "claims-staff"

    page = staff_client.get(response["Location"]).content.decode()
    assert "Created 60 codes" in page
    assert f"/admin/claims/claimbatch/{batch.pk}/codes.csv" in page
    assert f"/admin/claims/claimbatch/{batch.pk}/labels.pdf?start=1" in page
    assert "QR labels 1–60 (PDF)" in page


@pytest.mark.parametrize(("values", "field"), [
    ({"quantity": 100_001}, "quantity"), ({"quantity": 0}, "quantity"), ({"points": 0}, "points"),
    ({"valid_until_0": "2000-01-01", "valid_until_1": "00:00:00"}, "valid_until"),
])
def test_the_add_form_refuses_bad_batches(staff_client, brand, values, field):
    response = staff_client.post("/admin/claims/claimbatch/add/", add_form(brand, **values))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ClaimBatch.objects.exists()


def test_the_add_form_refuses_another_brands_currency(staff_client, brand, other_brand):
    response = staff_client.post("/admin/claims/claimbatch/add/",
                                 add_form(brand, currency=other_brand.currencies.get().pk))
    assert response.status_code == 200 and "currency" in response.context["adminform"].form.errors
    assert not ClaimBatch.objects.exists()


def test_the_change_page_counts_claimed_and_remaining_codes_and_keeps_the_value_fixed(staff_client, brand, member,
                                                                                      make_batch):
    batch, codes = make_batch(brand, quantity=7)
    claim_code_redeem(member=member, code=codes[0])
    claim_code_redeem(member=member, code=codes[4])
    page = staff_client.get(f"/admin/claims/claimbatch/{batch.pk}/change/")
    html = page.content.decode()

    def readonly(name):
        match = re.search(rf'field-{name}\b.*?<div class="readonly">([^<]*)</div>', html, re.S)
        return match and match.group(1)

    assert (readonly("claimed"), readonly("remaining"), readonly("points"), readonly("quantity")) == ("2", "5", "10",
                                                                                                     "7")
    assert 'name="points"' not in html and 'name="quantity"' not in html and 'name="name"' in html
    listing = staff_client.get("/admin/claims/claimbatch/")
    assert listing.status_code == 200 and listing.context["cl"].result_list[0].claimed_count == 2


def test_the_csv_holds_every_code_with_its_claim_url_and_they_hash_to_the_stored_digests(staff_client, brand,
                                                                                         make_batch, settings):
    settings.SITE_URL = "https://points.example.com"
    batch, codes = make_batch(brand, quantity=1234)
    response = staff_client.get(f"/admin/claims/claimbatch/{batch.pk}/codes.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert [row["code"] for row in rows] == codes
    assert rows[9] == {"number": "10", "code": codes[9],
                       "url": f"https://points.example.com/liff/{brand.slug}/claim/?code={codes[9]}"}
    digests = {code_digest(code_normalise(row["code"])) for row in rows}
    assert digests == set(ClaimCode.objects.filter(batch=batch).values_list("code_digest", flat=True))
    assert LogEntry.objects.filter(object_id=str(batch.pk), change_message__contains="CSV").exists()


def test_the_pdf_is_a_sheet_of_labels_24_a_page(staff_client, brand, make_batch):
    batch, _codes = make_batch(brand, quantity=50)
    response = staff_client.get(f"/admin/claims/claimbatch/{batch.pk}/labels.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert pdf_page_count(response.content) == 3
    assert b"/Count 3" in response.content


def test_a_large_batch_downloads_its_pdf_in_parts_of_5000_labels(brand, make_batch):
    batch, _codes = make_batch(brand, quantity=5_030)
    assert exports.pdf_parts(batch) == [(1, 5000), (5001, 5030)]
    assert pdf_page_count(exports.labels_pdf(batch, start=5001)) == 2


def test_1000_labels_render_in_a_few_seconds(brand, make_batch):
    import time

    batch, _codes = make_batch(brand, quantity=1000)
    started = time.perf_counter()
    data = exports.labels_pdf(batch)
    elapsed = time.perf_counter() - started
    print(f"\n1,000 QR labels rendered in {elapsed:.2f} s ({len(data) // 1024} KiB)")
    assert pdf_page_count(data) == 42 and elapsed < 10


def test_staff_of_another_brand_cannot_see_or_download_a_batch(client, brand, other_brand, make_batch):
    batch, _codes = make_batch(brand)
    client.force_login(claims_staff(brands=[other_brand], username="other-staff"))
    assert client.get(f"/admin/claims/claimbatch/{batch.pk}/codes.csv").status_code == 404
    assert client.get(f"/admin/claims/claimbatch/{batch.pk}/labels.pdf").status_code == 404
    assert client.get(f"/admin/claims/claimbatch/{batch.pk}/change/").status_code == 302  # "doesn't exist"
    assert client.get("/admin/claims/claimbatch/").context["cl"].result_count == 0


def test_staff_without_the_download_permission_cannot_download(client, brand, make_batch):
    batch, _codes = make_batch(brand)
    client.force_login(claims_staff(brands=[brand], username="viewer", download=False))
    page = client.get(f"/admin/claims/claimbatch/{batch.pk}/change/")
    assert page.status_code == 200 and "codes.csv" not in page.content.decode()
    assert client.get(f"/admin/claims/claimbatch/{batch.pk}/codes.csv").status_code == 403
    assert client.get(f"/admin/claims/claimbatch/{batch.pk}/labels.pdf").status_code == 403


def test_the_codes_list_never_shows_a_code_but_finds_one_by_its_digest(staff_client, brand, member, make_batch):
    batch, codes = make_batch(brand, quantity=3)
    claim_code_redeem(member=member, code=codes[1])
    listing = staff_client.get("/admin/claims/claimcode/")
    html = listing.content.decode()
    assert listing.status_code == 200 and all(code not in html for code in codes)
    assert all(code_digest(code_normalise(code)) not in html for code in codes)
    found = staff_client.get("/admin/claims/claimcode/", {"q": codes[1].lower()})
    assert [code.number for code in found.context["cl"].result_list] == [2]
    by_member = staff_client.get("/admin/claims/claimcode/", {"q": member.code})
    assert [code.number for code in by_member.context["cl"].result_list] == [2]
    unclaimed = staff_client.get("/admin/claims/claimcode/", {"claimed": "no"})
    assert sorted(code.number for code in unclaimed.context["cl"].result_list) == [1, 3]
    assert staff_client.get(f"/admin/claims/claimcode/{ClaimCode.objects.first().pk}/change/").status_code == 200
    assert staff_client.post("/admin/claims/claimcode/add/", {}).status_code == 403


def test_other_brands_codes_are_not_listed(client, brand, other_brand, make_batch):
    make_batch(brand, quantity=3)
    client.force_login(claims_staff(brands=[other_brand], username="other-staff"))
    assert client.get("/admin/claims/claimcode/").context["cl"].result_count == 0


def test_the_demo_command_writes_a_private_csv_under_var(brand, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("claim_codes_generate", "--brand", brand.slug, "--points", "10", "--quantity", "100",
                 "--name", "Demo", "--pdf", stdout=out)
    lines = out.getvalue().strip().splitlines()
    path = tmp_path / "claim_codes" / f"claim-codes-{brand.slug}-{ClaimBatch.objects.get().pk}.csv"
    assert lines[-1] == str(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 100 and lines[-2].endswith(rows[0]["url"])
    assert any(line.startswith("PDF labels: ") for line in lines)
    assert ClaimBatch.objects.get().valid_until is not None

    # `make run` again: the same batch, its files written again, the first unclaimed code offered.
    claim_code_redeem(member=factories.MemberFactory(brand=brand), code=rows[0]["code"])
    first_csv = path.read_text()
    out = io.StringIO()
    call_command("claim_codes_generate", "--brand", brand.slug, "--points", "10", "--quantity", "100",
                 "--name", "Demo", "--reuse", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert ClaimBatch.objects.count() == 1 and path.read_text() == first_csv
    assert "(#2)" in lines[-2] and lines[-2].endswith(rows[1]["url"])


def test_the_demo_command_refuses_an_unknown_brand(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("claim_codes_generate", "--brand", "nope", "--points", "1", "--quantity", "1", "--name", "x")


def test_superusers_see_every_brands_batches(client, brand, other_brand, make_batch):
    make_batch(brand)
    make_batch(other_brand)
    client.force_login(factories.staff_user(username="root", superuser=True))
    assert client.get("/admin/claims/claimbatch/").context["cl"].result_count == 2


def test_label_qr_codes_are_pixel_for_pixel_what_the_qrcode_library_draws():
    import qrcode

    text = "https://points.example.com/liff/acme/claim/?code=ABCD-EFGH-JKLM-NPQR"
    version = exports._qr_version(text)
    reference = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, border=0,
                              box_size=1, mask_pattern=2)
    reference.add_data(text, optimize=0)
    expected = reference.make_image().get_image().convert("1")
    drawn = exports._qr_image(text, version)
    scale = drawn.width // expected.width
    assert drawn.resize(expected.size).tobytes() == expected.tobytes() and scale >= 4


def test_the_batch_list_costs_the_same_queries_for_one_batch_or_five(staff_client, brand, member, make_batch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get("/admin/claims/claimbatch/").status_code == 200
        return len(captured)

    _batch, codes = make_batch(brand)
    claim_code_redeem(member=member, code=codes[0])
    one = queries()
    for _ in range(4):
        make_batch(brand)
    assert queries() == one
