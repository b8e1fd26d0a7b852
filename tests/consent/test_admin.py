"""Consent in the staff admin: brand-scoped, published text read-only, the log untouchable."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from consent.models import ConsentRecord, ConsentVersion
from tests import factories

from .conftest import draft, grant

pytestmark = pytest.mark.django_db


def consent_staff(brand, username):
    user = factories.staff_user(brands=[brand], username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="consent"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_a(brand):
    return consent_staff(brand, "consent-a")


@pytest.fixture
def rows(docs, other_docs, brand, other_brand):
    member_a, member_b = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=other_brand)
    return {"a": (docs, grant(member_a, docs.marketing)), "b": (other_docs, grant(member_b, other_docs.marketing))}


def changelist(client, model):
    response = client.get(reverse(f"admin:consent_{model}_changelist"))
    assert response.status_code == 200
    return set(response.context["cl"].queryset)


def test_staff_see_only_their_brands_documents_versions_and_records(client_a, rows):
    (docs_a, record_a), (docs_b, record_b) = rows["a"], rows["b"]
    assert changelist(client_a, "consentdocument") == {v.document for v in (docs_a.terms, docs_a.privacy,
                                                                             docs_a.marketing)}
    assert changelist(client_a, "consentversion") == {docs_a.terms, docs_a.privacy, docs_a.marketing}
    assert changelist(client_a, "consentrecord") == {record_a}
    for url in (reverse("admin:consent_consentdocument_change", args=[docs_b.terms.document_id]),
                reverse("admin:consent_consentversion_change", args=[docs_b.terms.pk]),
                reverse("admin:consent_consentrecord_change", args=[record_b.pk])):
        assert client_a.get(url).status_code == 302  # "does not exist" → back to the admin index


def test_the_consent_log_cannot_be_added_changed_or_deleted_in_admin(client_a, rows):
    _docs, record = rows["a"]
    assert client_a.get(reverse("admin:consent_consentrecord_add")).status_code == 403
    assert client_a.get(reverse("admin:consent_consentrecord_change", args=[record.pk])).status_code == 200
    response = client_a.post(reverse("admin:consent_consentrecord_change", args=[record.pk]),
                             {"granted": "", "reason": "edited"})
    assert response.status_code == 403
    assert client_a.post(reverse("admin:consent_consentrecord_delete", args=[record.pk]),
                         {"post": "yes"}).status_code == 403
    client_a.post(reverse("admin:consent_consentrecord_changelist"),
                  {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"})
    assert ConsentRecord.objects.get(pk=record.pk).granted is True


def test_a_published_version_is_read_only_in_admin(client_a, docs):
    url = reverse("admin:consent_consentversion_change", args=[docs.terms.pk])
    assert client_a.get(url).status_code == 200
    response = client_a.post(url, {"document": docs.terms.document_id, "version": 1, "content_th": "แก้",
                                   "content_en": "edited"})
    assert response.status_code == 403
    assert client_a.post(reverse("admin:consent_consentversion_delete", args=[docs.terms.pk]),
                         {"post": "yes"}).status_code == 403
    assert ConsentVersion.objects.get(pk=docs.terms.pk).content_en == "Text 1"


def test_document_page_shows_published_versions_read_only_and_drafts_editable(client_a, docs):
    pending = draft(docs.terms.document, 2)
    response = client_a.get(reverse("admin:consent_consentdocument_change", args=[docs.terms.document_id]))
    assert response.status_code == 200
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    published, drafts = formsets["versions"], formsets["versions-2"]
    assert [form.instance for form in published.forms] == [docs.terms]
    assert "content_th" not in published.forms[0].fields
    assert [form.instance for form in drafts.forms] == [pending]
    assert "content_th" in drafts.forms[0].fields


def test_staff_publish_drafts_with_the_action(client_a, docs):
    pending = draft(docs.terms.document, 2)
    response = client_a.post(reverse("admin:consent_consentversion_changelist"),
                             {"action": "publish_versions", "_selected_action": [pending.pk, docs.privacy.pk]})
    assert response.status_code == 302
    assert ConsentVersion.objects.get(pk=pending.pk).is_published
