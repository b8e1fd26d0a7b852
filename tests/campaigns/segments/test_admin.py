"""Admin: the count endpoint (brand-scoped), saving definitions, the list summary, tag pages."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.segments.models import MemberTag, MemberTagging, Segment
from tests import factories

COUNT_URL = "/admin/segments/segment/count/"


def post_count(client, brand, definition):
    return client.post(COUNT_URL, data=json.dumps({"brand": brand.pk, "definition": definition}),
                       content_type="application/json")


@pytest.fixture
def staff_client(client, brand):
    client.force_login(factories.staff_user(brands=[brand], username="segment-staff"))
    return client


def test_count_endpoint_counts_summarises_and_samples_a_draft(staff_client, brand, people):
    response = post_count(staff_client, brand, {"op": "or", "conditions": [
        {"type": "gender", "genders": ["female"]}, {"type": "pending"}]})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["summary"] == "gender Female OR pending members (never registered)"
    assert sorted(member["code"] for member in body["sample"]) == ["ANNAAAAA", "EVEEEEEE"]


def test_count_endpoint_returns_field_errors(staff_client, brand, people):
    response = post_count(staff_client, brand, {"conditions": [{"type": "age", "min": "x"}]})
    assert response.status_code == 400
    assert response.json() == {"errors": {"conditions.0.min": ["Enter a whole number."]}}


def test_another_brands_staff_gets_404_and_anonymous_users_the_login_page(client, brand, other_brand, people):
    client.force_login(factories.staff_user(brands=[other_brand], username="other-staff"))
    assert post_count(client, brand, {}).status_code == 404
    assert post_count(client, other_brand, {}).json()["count"] == 0
    client.logout()
    response = post_count(client, brand, {})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_sample_is_at_most_20_members(staff_client, brand):
    factories.MemberFactory.create_batch(23, brand=brand)
    body = post_count(staff_client, brand, {}).json()
    assert (body["count"], len(body["sample"])) == (23, 20)


def test_saving_a_segment_stores_the_clean_definition_and_lists_its_summary(staff_client, brand, people):
    segment = Segment.objects.create(brand=brand, name="Ladies")
    url = reverse("admin:segments_segment_change", args=[segment.pk])
    page = staff_client.get(url)
    assert b'id="segment-builder-schema"' in page.content and b"segments/builder.js" in page.content
    response = staff_client.post(url, {"name": "Ladies", "description": "", "definition": json.dumps(
        {"op": "and", "conditions": [{"type": "gender", "genders": ["female"]},
                                     {"type": "purchased", "by": "sku", "codes": "latte", "days": "90"}]})})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.definition == {"op": "and", "conditions": [
        {"type": "gender", "genders": ["female"]},
        {"type": "purchased", "by": "sku", "codes": ["LATTE"], "days": 90}]}
    listing = staff_client.get(reverse("admin:segments_segment_changelist"))
    assert "gender Female AND bought SKU LATTE in the last 90 days" in listing.content.decode()


def test_an_invalid_definition_is_not_saved(staff_client, brand):
    segment = Segment.objects.create(brand=brand, name="S")
    response = staff_client.post(reverse("admin:segments_segment_change", args=[segment.pk]), {
        "name": "S", "description": "", "definition": json.dumps({"conditions": [{"type": "rfm", "groups": []}]})})
    assert response.status_code == 200
    assert "conditions.0.groups: Choose at least one." in response.content.decode()
    segment.refresh_from_db()
    assert segment.definition == {}


def test_csv_upload_page_reports_unknown_rows(staff_client, brand, people):
    tag = MemberTag.objects.create(brand=brand, name="VIP")
    upload = SimpleUploadedFile("vip.csv", b"ANNAAAAA\nNOPE2345\n", content_type="text/csv")
    response = staff_client.post(reverse("admin:segments_membertag_import", args=[tag.pk]), {"file": upload})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Tagged 1 members; 0 already had the tag." in text and "NOPE2345" in text
    assert list(MemberTagging.objects.values_list("member__code", flat=True)) == ["ANNAAAAA"]


def test_another_brands_staff_cannot_open_the_tag_import(client, brand, other_brand):
    tag = MemberTag.objects.create(brand=brand, name="VIP")
    client.force_login(factories.staff_user(brands=[other_brand], username="other-staff"))
    assert client.get(reverse("admin:segments_membertag_import", args=[tag.pk])).status_code == 404
