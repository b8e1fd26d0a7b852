"""The privacy centre in the portal (LIFF): every document, status and history; optional consents changed."""

import pytest
from django.urls import reverse

from consent.models import ConsentRecord
from consent.selectors import consent_status, marketing_consented_member_ids

from .conftest import publish

pytestmark = pytest.mark.django_db


def centre(brand):
    return reverse("liff:privacy:centre", args=[brand.slug])


def test_the_centre_lists_every_document_with_its_current_version_status_and_history(client, portal_member, docs,
                                                                                       line_brand):
    publish(docs.marketing.document, 2)  # optional: a new text does not undo the member's choice
    response = client.get(centre(line_brand))
    assert response.status_code == 200
    rows = {row.document.kind: row for row in response.context["rows"]}
    assert list(rows) == ["privacy", "terms", "marketing"]  # required first
    assert [(row.current.version, row.granted, row.decided_on_current, row.can_change) for row in rows.values()] == [
        (1, True, True, False), (1, True, True, False), (2, True, False, True)]
    html = response.content.decode()
    assert "Version 2, in effect from" in html
    assert "You decided on version 1. A new version is available" in html
    assert 'data-testid="withdraw-marketing"' in html
    assert 'data-testid="withdraw-terms"' not in html  # required documents are not withdrawn here


def test_withdrawing_marketing_applies_to_the_next_send_at_once(client, portal_member, docs, line_brand):
    assert marketing_consented_member_ids(brand=line_brand, member_ids=[portal_member.pk]) == {portal_member.pk}
    response = client.post(centre(line_brand), {"action": "withdraw", "document": docs.marketing.document_id},
                           HTTP_USER_AGENT="Line/14.10.0", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 302 and response["Location"].endswith("?saved=withdraw")
    assert marketing_consented_member_ids(brand=line_brand, member_ids=[portal_member.pk]) == set()
    record = ConsentRecord.objects.filter(member=portal_member).first()  # newest first
    assert (record.granted, record.channel, record.version_id, record.ip, record.user_agent) == (
        False, "liff", docs.marketing.pk, "198.51.100.4", "Line/14.10.0")
    page = client.get(f"{centre(line_brand)}?saved=withdraw").content.decode()
    assert "Your consent is withdrawn" in page and 'data-testid="grant-marketing"' in page

    client.post(centre(line_brand), {"action": "grant", "document": docs.marketing.document_id})
    assert consent_status(member=portal_member)[docs.marketing.document_id] is True
    assert ConsentRecord.objects.filter(member=portal_member, document=docs.marketing.document).count() == 3


def test_a_required_document_cannot_be_withdrawn_from_the_portal(client, portal_member, docs, line_brand):
    before = ConsentRecord.objects.count()
    response = client.post(centre(line_brand), {"action": "withdraw", "document": docs.terms.document_id})
    assert response.status_code == 400
    assert "cannot be withdrawn here" in response.content.decode()
    assert ConsentRecord.objects.count() == before


def test_another_brands_document_is_refused(client, portal_member, other_docs, line_brand):
    before = ConsentRecord.objects.count()
    response = client.post(centre(line_brand), {"action": "grant", "document": other_docs.marketing.document_id})
    assert response.status_code == 400
    assert ConsentRecord.objects.count() == before


def test_the_centre_stays_open_while_a_new_required_version_waits(client, portal_member, docs, line_brand):
    publish(docs.terms.document, 2)
    assert client.get(reverse("liff:card", args=[line_brand.slug]))["Location"].endswith("/consents/")
    assert client.get(centre(line_brand)).status_code == 200
    assert client.get(reverse("liff:privacy:my-data", args=[line_brand.slug])).status_code == 200


def test_the_document_page_shows_the_text_and_the_members_history(client, portal_member, docs, line_brand):
    response = client.get(reverse("liff:privacy:document", args=[line_brand.slug, docs.terms.document_id]))
    assert response.status_code == 200
    assert "Text 1" in response.content.decode()
    assert [record.granted for record in response.context["row"].history] == [True]
    assert client.get(reverse("liff:privacy:document", args=[line_brand.slug, 999999])).status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_centre_has_no_update_or_delete_method(client, portal_member, line_brand, method):
    assert getattr(client, method)(centre(line_brand)).status_code == 405


def test_an_optional_document_never_answered_is_asked_not_forced(client, fake_line, line_brand, docs):
    from .conftest import liff_member

    member = liff_member(client, fake_line, line_brand, docs, marketing=None)
    assert client.get(reverse("liff:card", args=[line_brand.slug])).status_code == 200  # not forced
    page = client.get(reverse("liff:consents", args=[line_brand.slug]))
    assert [version.pk for version in page.context["versions"]] == [docs.marketing.pk]  # asked
    response = client.post(reverse("liff:consents", args=[line_brand.slug]), {})  # left unticked
    assert response.status_code == 302
    assert consent_status(member=member)[docs.marketing.document_id] is False
    assert client.get(reverse("liff:consents", args=[line_brand.slug]))["Location"].endswith("/card/")


def test_a_new_required_version_is_asked_before_anything_else_with_the_unanswered_optional(client, fake_line,
                                                                                            line_brand, docs):
    from .conftest import liff_member

    member = liff_member(client, fake_line, line_brand, docs, marketing=None)
    terms_v2 = publish(docs.terms.document, 2)
    assert client.get(reverse("liff:points", args=[line_brand.slug]))["Location"].endswith("/consents/")
    page = client.get(reverse("liff:consents", args=[line_brand.slug]))
    assert [version.pk for version in page.context["versions"]] == [terms_v2.pk, docs.marketing.pk]
    refused = client.post(reverse("liff:consents", args=[line_brand.slug]), {"consents": [docs.marketing.pk]})
    assert refused.status_code == 400
    client.post(reverse("liff:consents", args=[line_brand.slug]), {"consents": [terms_v2.pk, docs.marketing.pk]})
    status = consent_status(member=member)
    assert status[docs.terms.document_id] and status[docs.marketing.document_id]
    assert client.get(reverse("liff:points", args=[line_brand.slug])).status_code == 200
