"""Current versions, current status, what a member must still accept, and the marketing audience."""

from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models import ConsentDocument
from consent.selectors import (
    consent_status,
    consent_versions_current,
    consents_missing,
    marketing_consented_member_ids,
    members_with_marketing_consent,
)
from tests import factories

from .conftest import document, draft, grant, publish

pytestmark = pytest.mark.django_db


def test_current_version_is_the_highest_published_one_in_effect(brand, docs, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    draft(docs.terms.document, 2)
    later = publish(docs.privacy.document, 2, effective_at=timezone.now() + timedelta(days=1))
    assert list(consent_versions_current(brand=brand)) == [docs.terms, docs.privacy, docs.marketing]
    time_machine.shift(timedelta(days=1))
    assert list(consent_versions_current(brand=brand)) == [docs.terms, later, docs.marketing]


def test_documents_without_a_published_version_are_left_out(brand):
    draft(document(brand, "terms", required=True), 1)
    assert list(consent_versions_current(brand=brand)) == []


def test_current_versions_belong_to_the_brand(brand, docs, other_docs):
    assert {v.document.brand_id for v in consent_versions_current(brand=brand)} == {brand.pk}


def test_status_is_the_latest_decision_per_document(docs, member):
    assert consent_status(member=member) == {
        docs.terms.document_id: False, docs.privacy.document_id: False, docs.marketing.document_id: False}
    grant(member, docs.terms)
    grant(member, docs.marketing)
    grant(member, docs.marketing, granted=False)
    assert consent_status(member=member) == {
        docs.terms.document_id: True, docs.privacy.document_id: False, docs.marketing.document_id: False}
    grant(member, docs.marketing)
    assert consent_status(member=member)[docs.marketing.document_id] is True


def test_status_is_per_member(docs, member, brand):
    other = factories.MemberFactory(brand=brand)
    grant(other, docs.marketing)
    assert consent_status(member=member)[docs.marketing.document_id] is False


def test_a_new_member_must_accept_the_required_documents_only(docs, member):
    assert consents_missing(member=member) == [docs.terms, docs.privacy]
    grant(member, docs.terms)
    grant(member, docs.privacy)
    assert consents_missing(member=member) == []


def test_withdrawing_a_required_document_asks_for_it_again(docs, member):
    grant(member, docs.terms)
    grant(member, docs.privacy)
    grant(member, docs.privacy, granted=False)
    assert consents_missing(member=member) == [docs.privacy]


def test_a_new_required_version_must_be_accepted_again(docs, member):
    grant(member, docs.terms)
    grant(member, docs.privacy)
    terms_v2 = publish(docs.terms.document, 2)
    assert consents_missing(member=member) == [terms_v2]
    grant(member, terms_v2)
    assert consents_missing(member=member) == []


def test_a_new_required_version_is_asked_once_it_takes_effect(docs, member, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    grant(member, docs.terms)
    grant(member, docs.privacy)
    terms_v2 = publish(docs.terms.document, 2, effective_at=timezone.now() + timedelta(days=7))
    assert consents_missing(member=member) == []
    time_machine.shift(timedelta(days=7))
    assert consents_missing(member=member) == [terms_v2]


def test_a_new_optional_version_is_not_forced_and_keeps_the_decision(docs, member):
    grant(member, docs.terms)
    grant(member, docs.privacy)
    grant(member, docs.marketing)
    publish(docs.marketing.document, 2)
    assert consents_missing(member=member) == []
    assert consent_status(member=member)[docs.marketing.document_id] is True
    assert marketing_consented_member_ids(brand=member.brand, member_ids=[member.pk]) == {member.pk}


def test_marketing_audience_is_the_members_whose_latest_marketing_decision_is_a_grant(brand, docs, other_brand,
                                                                                        other_docs):
    granted, withdrawn, regranted, never, terms_only = (factories.MemberFactory(brand=brand) for _ in range(5))
    grant(granted, docs.marketing)
    grant(withdrawn, docs.marketing)
    grant(withdrawn, docs.marketing, granted=False)
    grant(regranted, docs.marketing, granted=False)
    grant(regranted, docs.marketing)
    grant(terms_only, docs.terms)
    elsewhere = factories.MemberFactory(brand=other_brand)
    grant(elsewhere, other_docs.marketing)
    ids = [m.pk for m in (granted, withdrawn, regranted, never, terms_only, elsewhere)]

    assert marketing_consented_member_ids(brand=brand, member_ids=ids) == {granted.pk, regranted.pk}
    assert marketing_consented_member_ids(brand=other_brand, member_ids=ids) == {elsewhere.pk}
    assert set(members_with_marketing_consent(brand=brand)) == {granted, regranted}
    assert marketing_consented_member_ids(brand=brand, member_ids=[]) == set()


def test_a_withdrawal_takes_effect_at_the_next_read(docs, member):
    grant(member, docs.marketing)
    assert marketing_consented_member_ids(brand=member.brand, member_ids=[member.pk]) == {member.pk}
    grant(member, docs.marketing, granted=False)
    assert marketing_consented_member_ids(brand=member.brand, member_ids=[member.pk]) == set()


def test_a_brand_without_marketing_consent_has_no_marketing_audience(brand, member):
    terms = publish(document(brand, ConsentDocument.Kind.TERMS, required=True), 1)
    grant(member, terms)
    assert marketing_consented_member_ids(brand=brand, member_ids=[member.pk]) == set()


def test_marketing_audience_is_one_query_whatever_the_batch_size(brand, docs, django_assert_num_queries):
    members = [factories.MemberFactory(brand=brand) for _ in range(20)]
    for member in members[::2]:
        grant(member, docs.marketing)
    with django_assert_num_queries(1):
        allowed = marketing_consented_member_ids(brand=brand, member_ids=[m.pk for m in members])
    assert allowed == {m.pk for m in members[::2]}
