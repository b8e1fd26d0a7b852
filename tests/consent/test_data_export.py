"""The member's own data as JSON: every personal table, discovered; every access audited."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from config.append_only import AppendOnlyError
from consent.models import PersonalDataAccess
from members.data_export import SECTIONS, member_data_export, personal_models
from tests import factories

from .conftest import grant
from .personal_rows import fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_the_export_holds_profile_consents_ledger_purchases_coupons_messages_and_every_personal_table(
        portal_member, docs, line_brand):
    rows = fill(portal_member)
    stranger = factories.MemberFactory(brand=line_brand)
    fill(stranger, order_id="POS-2")  # someone else's rows never appear

    data = member_data_export(member=portal_member)
    json.dumps(data)  # JSON-ready as is

    profile = data["profile"]
    assert (profile["first_name"], profile["last_name"], profile["phone"], profile["email"]) == (
        "Noknoi", "Dee", "+66812223344", "nok@example.com")
    assert profile["line_user_id"] == portal_member.line_user_id
    assert [(c["kind"], c["version"], c["granted"], c["channel"]) for c in data["consents"]] == [
        ("terms", 1, True, "liff"), ("privacy", 1, True, "liff"), ("marketing", 1, True, "liff")]
    assert data["consents"][0]["text_en"] == "Text 1" and data["consents"][0]["ip"] == "203.0.113.7"
    assert sum(entry["points"] for entry in data["ledger"]) == data["accounts"][0]["balance"]
    assert [entry["points"] for entry in data["ledger"]][0] == 300
    (purchase,) = data["purchases"]
    assert (purchase["order_id"], purchase["total"]) == ("POS-1", "250.00")
    assert purchase["lines"] == [{"sku": "LATTE", "category": "coffee", "quantity": 2, "amount": "200.00"},
                                 {"sku": "COOKIE", "category": "bakery", "quantity": 1, "amount": "50.00"}]
    assert [coupon["code"] for coupon in data["coupons"]] == [rows["coupon"].code]
    assert [m["messages"] for m in data["messages_received"] if m["template"] == "hello"] == [
        [{"type": "text", "text": "Hi Nok"}]]

    other = data["other"]
    # Every model with a foreign key to members is exported, in a section or under "other".
    assert set(other) | set(SECTIONS) == {model._meta.label_lower for model, _names in personal_models()}
    (receipt,) = other["receipts.receipt"]
    assert receipt["ocr_text"].startswith("Nok Dee") and receipt["image"].endswith(".jpg")
    assert "sha256" not in receipt and "upload_key" not in receipt
    assert [review["text"] for review in other["missions.productreview"]] == ["My name is Nok and I love it"]
    assert [response["answers"]["why"] for response in other["activity.surveyresponse"]] == [
        "Near my home in Sukhumvit 11"]
    assert [change["new_value"] for change in other["members.memberchange"]] == ["Noknoi"]
    assert "changed_by_id" not in other["members.memberchange"][0]  # staff identities are not the member's data


def test_the_member_downloads_their_data_from_the_portal_and_the_access_is_recorded(client, portal_member,
                                                                                      line_brand):
    url = reverse("liff:privacy:my-data", args=[line_brand.slug])
    assert client.get(url).status_code == 200
    assert not PersonalDataAccess.objects.exists()  # reading the page is not an access
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["code"] == portal_member.code
    access = PersonalDataAccess.objects.get()
    assert (access.member, access.action, access.channel, access.staff_user) == (
        portal_member, "export", "member", None)


def staff_client(brand, username="privacy-officer", permissions=("consent",)):
    user = factories.staff_user(brands=[brand], username=username)
    user.groups.clear()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=permissions))
    client = Client()
    client.force_login(user)
    return client, user


def test_a_staff_export_needs_a_reason_and_is_audited_with_who_when_and_why(portal_member, line_brand):
    client, user = staff_client(line_brand)
    url = reverse("admin:consent_member_export", args=[portal_member.pk])
    refused = client.post(url, {"export-reason": "  "})
    assert refused.status_code == 302 and not PersonalDataAccess.objects.exists()
    response = client.post(url, {"export-reason": "Member asked by phone, ticket 4411"})
    assert response.status_code == 200
    assert json.loads(response.content)["profile"]["phone"] == "+66812223344"
    access = PersonalDataAccess.objects.get()
    assert (access.member, access.action, access.channel, access.staff_user, access.reason) == (
        portal_member, "export", "staff", user, "Member asked by phone, ticket 4411")
    assert access.created_at is not None
    page = client.get(reverse("admin:consent_member", args=[portal_member.pk])).content.decode()
    assert "ticket 4411" in page


def test_staff_of_another_brand_cannot_export_and_a_get_is_refused(portal_member, other_brand, line_brand):
    client, _user = staff_client(other_brand, username="other-officer")
    url = reverse("admin:consent_member_export", args=[portal_member.pk])
    assert client.post(url, {"export-reason": "curious"}).status_code == 404
    own, _user = staff_client(line_brand)
    assert own.get(url).status_code == 403
    assert not PersonalDataAccess.objects.exists()


def test_audit_rows_cannot_be_changed_or_deleted(portal_member, line_brand):
    client, _user = staff_client(line_brand)
    client.post(reverse("admin:consent_member_export", args=[portal_member.pk]), {"export-reason": "audit"})
    access = PersonalDataAccess.objects.get()
    access.reason = "nothing to see"
    with pytest.raises(AppendOnlyError):
        access.save()
    with pytest.raises(AppendOnlyError):
        access.delete()
    change_url = reverse("admin:consent_personaldataaccess_change", args=[access.pk])
    assert client.post(change_url, {"reason": "edited"}).status_code == 403
    assert client.post(reverse("admin:consent_personaldataaccess_delete", args=[access.pk]),
                       {"post": "yes"}).status_code == 403
    assert PersonalDataAccess.objects.get().reason == "audit"


def test_marketing_withdrawn_members_still_get_their_data(portal_member, docs):
    grant(portal_member, docs.marketing, False)
    assert member_data_export(member=portal_member)["consents"][-1]["granted"] is False
