"""The member privacy page in admin: status, full history, a withdrawal on the member's behalf; no edit path."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import get_resolver, reverse

from config.append_only import AppendOnlyError
from consent.models import ConsentAnonymisation, ConsentRecord
from consent.selectors import consent_status, marketing_consented_member_ids
from tests import factories

from .conftest import grant, publish
from .test_data_export import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(brand, docs):
    member = factories.MemberFactory(brand=brand, code="PHONE001")
    grant(member, docs.terms)
    grant(member, docs.privacy)
    grant(member, docs.marketing)
    return member


def test_staff_see_the_members_current_status_and_full_history(brand, member, docs):
    publish(docs.terms.document, 2)
    grant(member, docs.marketing, False)
    client, _user = staff_client(brand)
    response = client.get(reverse("admin:consent_member", args=[member.pk]))
    assert response.status_code == 200
    rows = {row.document.kind: row for row in response.context["rows"]}
    assert [(kind, row.current.version, row.granted, row.latest.version.version)
            for kind, row in rows.items()] == [("privacy", 1, True, 1), ("terms", 2, True, 1),
                                               ("marketing", 1, False, 1)]
    assert [record.granted for record in rows["marketing"].history] == [False, True]
    # Linked from the consent record list.
    changelist = client.get(reverse("admin:consent_consentrecord_changelist")).content.decode()
    assert reverse("admin:consent_member", args=[member.pk]) in changelist
    assert client.get(reverse("admin:consent_member_find"), {"q": "phone001"})["Location"].endswith(
        f"/member/{member.pk}/")


def test_a_withdrawal_on_the_members_behalf_needs_a_reason_and_names_the_staff_user(brand, member, docs):
    client, user = staff_client(brand)
    url = reverse("admin:consent_member", args=[member.pk])
    before = ConsentRecord.objects.count()
    refused = client.post(url, {"document": docs.marketing.document_id, "reason": ""})
    assert refused.status_code == 400 and ConsentRecord.objects.count() == before
    response = client.post(url, {"document": docs.marketing.document_id,
                                 "reason": "Called the hotline on 3 May, asked to stop promotions"})
    assert response.status_code == 302
    record = ConsentRecord.objects.filter(member=member).first()
    assert (record.granted, record.channel, record.staff_user, record.reason, record.version_id) == (
        False, "staff", user, "Called the hotline on 3 May, asked to stop promotions", docs.marketing.pk)
    assert consent_status(member=member)[docs.marketing.document_id] is False
    assert marketing_consented_member_ids(brand=brand, member_ids=[member.pk]) == set()


def test_another_brands_member_page_is_not_found_and_a_viewer_cannot_withdraw(brand, other_brand, member, docs):
    other, _user = staff_client(other_brand, username="other-dpo")
    assert other.get(reverse("admin:consent_member", args=[member.pk])).status_code == 404
    viewer = factories.staff_user(brands=[brand], username="viewer")
    viewer.groups.clear()
    viewer.user_permissions.add(Permission.objects.get(codename="view_consentrecord"))
    from django.test import Client

    client = Client()
    client.force_login(viewer)
    url = reverse("admin:consent_member", args=[member.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"document": docs.marketing.document_id, "reason": "x"}).status_code == 403
    assert consent_status(member=member)[docs.marketing.document_id] is True


def test_the_log_has_no_update_or_delete_path_in_models_admin_or_api(brand, member, docs):
    record = ConsentRecord.objects.filter(member=member).first()
    record.granted = False
    with pytest.raises(AppendOnlyError):
        record.save()
    with pytest.raises(AppendOnlyError):
        record.delete()
    client, _user = staff_client(brand)
    assert client.post(reverse("admin:consent_consentrecord_change", args=[record.pk]),
                       {"granted": ""}).status_code == 403
    assert client.post(reverse("admin:consent_consentrecord_delete", args=[record.pk]),
                       {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:consent_consentanonymisation_add")).status_code == 403
    anonymisation = ConsentAnonymisation.objects.create(member=member, records=0, reason="test")
    with pytest.raises(AppendOnlyError):
        anonymisation.delete()
    # The REST API exposes no consent endpoint at all (consent is written by the portal and admin only).
    api_patterns = [str(pattern.pattern) for pattern in get_resolver().url_patterns if "api/v1" in str(pattern.pattern)]
    assert api_patterns
    api_routes = []
    for pattern in get_resolver().url_patterns:
        if "api/v1" in str(pattern.pattern):
            api_routes += [str(sub.pattern) for sub in getattr(pattern, "url_patterns", [])]
    assert api_routes and not [route for route in api_routes if "consent" in route]
    assert ConsentRecord.objects.get(pk=record.pk).granted is True
