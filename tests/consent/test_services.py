"""Recording consent and publishing versions: the rules the services enforce."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from consent.errors import (
    ConsentReasonRequired,
    ConsentsMissing,
    ConsentStaffUserRequired,
    ConsentVersionAlreadyPublished,
    ConsentVersionNotFound,
    ConsentVersionNotNewer,
    ConsentVersionNotPublished,
)
from consent.models import ConsentRecord, ConsentVersion
from consent.selectors import consent_status
from consent.services import consent_record, consent_version_publish, consents_record_many
from tests import factories

from .conftest import document, draft, grant, publish

pytestmark = pytest.mark.django_db
Channel = ConsentRecord.Channel


def test_record_keeps_who_what_how_and_where(docs, member):
    record = consent_record(member=member, version=docs.marketing, granted=True, channel=Channel.LIFF,
                            ip="2001:db8::1", user_agent="Mozilla/5.0 " + "x" * 600)
    record = ConsentRecord.objects.get(pk=record.pk)
    assert (record.member, record.version, record.document, record.granted, record.channel) == (
        member, docs.marketing, docs.marketing.document, True, Channel.LIFF)
    assert record.ip == "2001:db8::1"
    assert len(record.user_agent) == 500 and record.user_agent.startswith("Mozilla/5.0 ")
    assert record.staff_user is None and record.reason == ""


def test_a_draft_version_cannot_be_consented_to(brand, member):
    version = draft(document(brand, "terms", required=True), 1)
    with pytest.raises(ConsentVersionNotPublished):
        grant(member, version)
    assert not ConsentRecord.objects.exists()


def test_a_version_of_another_brand_cannot_be_consented_to(member, other_docs):
    with pytest.raises(ConsentVersionNotFound):
        grant(member, other_docs.terms)
    assert not ConsentRecord.objects.exists()


def test_staff_channel_requires_a_reason(docs, member):
    staff = factories.staff_user(brands=[member.brand])
    with pytest.raises(ConsentReasonRequired) as raised:
        consent_record(member=member, version=docs.marketing, granted=False, channel=Channel.STAFF,
                       staff_user=staff, reason="   ")
    assert raised.value.code == "consent_reason_required"
    assert "reason" in raised.value.fields
    assert not ConsentRecord.objects.exists()


def test_staff_channel_requires_the_staff_user(docs, member):
    with pytest.raises(ConsentStaffUserRequired):
        consent_record(member=member, version=docs.marketing, granted=False, channel=Channel.STAFF,
                       reason="Member asked by phone")
    assert not ConsentRecord.objects.exists()


def test_staff_records_a_withdrawal_the_member_asked_for_by_phone(docs, member):
    staff = factories.staff_user(brands=[member.brand])
    grant(member, docs.marketing)
    record = consent_record(member=member, version=docs.marketing, granted=False, channel=Channel.STAFF,
                            staff_user=staff, reason="  Member asked by phone, ticket 42 ")
    assert (record.staff_user, record.reason) == (staff, "Member asked by phone, ticket 42")
    assert consent_status(member=member)[docs.marketing.document_id] is False


def test_record_many_writes_every_decision(docs, member):
    records = consents_record_many(member=member, channel=Channel.LIFF, decisions={
        docs.terms.pk: True, docs.privacy.pk: True, docs.marketing.pk: False})
    assert [(r.version, r.granted) for r in records] == [
        (docs.terms, True), (docs.privacy, True), (docs.marketing, False)]
    assert ConsentRecord.objects.count() == 3


def test_record_many_writes_nothing_when_one_version_is_unknown(docs, member, other_docs):
    for decisions in ({docs.terms.pk: True, 999_999: True}, {docs.terms.pk: True, other_docs.terms.pk: True}):
        with pytest.raises(ConsentVersionNotFound):
            consents_record_many(member=member, channel=Channel.LIFF, decisions=decisions)
    assert not ConsentRecord.objects.exists()


def test_record_many_requiring_completeness_refuses_a_declined_required_document(docs, member):
    with pytest.raises(ConsentsMissing) as raised:
        consents_record_many(member=member, channel=Channel.WEB, require_complete=True,
                             decisions={docs.terms.pk: True, docs.privacy.pk: False, docs.marketing.pk: True})
    assert raised.value.context["versions"] == [docs.privacy.pk]
    assert not ConsentRecord.objects.exists()
    consents_record_many(member=member, channel=Channel.WEB, require_complete=True,
                         decisions={docs.terms.pk: True, docs.privacy.pk: True})
    assert ConsentRecord.objects.count() == 2


def test_publish_freezes_the_version_and_dates_it(brand, time_machine):
    time_machine.move_to("2026-03-01 10:00 +07:00", tick=False)
    version = draft(document(brand, "terms", required=True), 1)
    published = consent_version_publish(version=version)
    stored = ConsentVersion.objects.get(pk=version.pk)
    assert stored.is_published and published.is_published
    assert stored.published_at == stored.effective_at == timezone.now()


def test_publish_with_a_future_effective_date_keeps_it(brand):
    tomorrow = timezone.now() + timedelta(days=1)
    version = publish(document(brand, "terms", required=True), 1, effective_at=tomorrow)
    assert version.effective_at == tomorrow


def test_publish_never_backdates_the_effective_date(brand):
    before = timezone.now()
    version = publish(document(brand, "terms", required=True), 1, effective_at=before - timedelta(days=30))
    assert version.effective_at >= before


def test_a_version_is_published_once(docs):
    with pytest.raises(ConsentVersionAlreadyPublished):
        consent_version_publish(version=docs.terms)


def test_published_version_numbers_only_go_up(docs):
    publish(docs.terms.document, 3)
    older = draft(docs.terms.document, 2)
    with pytest.raises(ConsentVersionNotNewer):
        consent_version_publish(version=older)
    assert ConsentVersion.objects.get(pk=older.pk).status == ConsentVersion.Status.DRAFT


@pytest.mark.django_db(transaction=True)
def test_a_members_records_are_serialised_so_the_last_committed_is_the_current_one(brand):
    """A withdrawal racing an open grant waits for it: the withdrawal, committed last, wins."""
    from tests.consent.conftest import publish_documents

    docs = publish_documents(brand)
    member = factories.MemberFactory(brand=brand)
    granted, release, withdrawn = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def grant_and_hold():
        try:
            with transaction.atomic():
                grant(member, docs.marketing)
                granted.set()
                release.wait(timeout=5)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    def withdraw():
        try:
            granted.wait(timeout=5)
            grant(member, docs.marketing, granted=False)
            withdrawn.set()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=grant_and_hold, daemon=True), threading.Thread(target=withdraw, daemon=True)]
    for thread in threads:
        thread.start()
    assert granted.wait(timeout=5)
    time.sleep(0.3)
    assert not withdrawn.is_set(), "the withdrawal did not wait for the member's lock"
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert withdrawn.is_set()
    assert list(ConsentRecord.objects.order_by("id").values_list("granted", flat=True)) == [True, False]
    assert consent_status(member=member)[docs.marketing.document_id] is False
