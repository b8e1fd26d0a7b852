"""The consent tables keep what members agreed to: published text is frozen, the log is append-only,
and the database itself refuses the rows the rules forbid."""

import pytest
from django.db import IntegrityError, transaction

from config.append_only import AppendOnlyError
from consent.errors import ConsentVersionImmutable
from consent.models import ConsentDocument, ConsentRecord, ConsentVersion

from .conftest import document, draft, grant

pytestmark = pytest.mark.django_db


def stored(version: ConsentVersion) -> ConsentVersion:
    return ConsentVersion.objects.get(pk=version.pk)


@pytest.mark.parametrize(("field", "value"), [
    ("content_th", "ข้อความใหม่"), ("content_en", "New text"), ("version", 7), ("effective_at", None),
])
def test_published_version_cannot_be_changed(docs, field, value):
    version = docs.terms
    before = stored(version)
    setattr(version, field, value)
    with pytest.raises(ConsentVersionImmutable):
        version.save()
    after = stored(version)
    assert (after.content_th, after.content_en, after.version, after.effective_at) == (
        before.content_th, before.content_en, before.version, before.effective_at)


def test_published_version_cannot_go_back_to_draft(docs):
    docs.terms.status = ConsentVersion.Status.DRAFT
    with pytest.raises(ConsentVersionImmutable):
        docs.terms.save()
    assert stored(docs.terms).is_published


def test_published_version_cannot_be_deleted(docs):
    with pytest.raises(ConsentVersionImmutable):
        docs.terms.delete()
    assert ConsentVersion.objects.filter(pk=docs.terms.pk).exists()


def test_saving_a_published_version_unchanged_is_harmless(docs):
    docs.terms.save()
    assert stored(docs.terms).content_en == docs.terms.content_en


def test_draft_version_can_be_edited_and_deleted(brand):
    version = draft(document(brand, "terms", required=True), 1)
    version.content_en = "Better text"
    version.save()
    assert stored(version).content_en == "Better text"
    version.delete()
    assert not ConsentVersion.objects.filter(pk=version.pk).exists()


def test_consent_record_cannot_be_updated(docs, member):
    record = grant(member, docs.marketing)
    record.granted = False
    with pytest.raises(AppendOnlyError):
        record.save()
    assert ConsentRecord.objects.get(pk=record.pk).granted is True


def test_consent_record_cannot_be_deleted(docs, member):
    record = grant(member, docs.marketing)
    with pytest.raises(AppendOnlyError):
        record.delete()
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


def test_database_refuses_a_staff_record_without_reason_or_staff_user(docs, member):
    from tests import factories

    staff = factories.staff_user(brands=[member.brand])
    for reason, staff_user in (("", staff), ("Asked by phone", None)):
        with pytest.raises(IntegrityError), transaction.atomic():
            ConsentRecord.objects.create(member=member, document=docs.marketing.document, version=docs.marketing,
                                         granted=False, channel=ConsentRecord.Channel.STAFF, reason=reason,
                                         staff_user=staff_user)
    assert not ConsentRecord.objects.exists()


def test_database_refuses_a_published_version_without_dates(brand):
    version = draft(document(brand, "terms", required=True), 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentVersion.objects.filter(pk=version.pk).update(status=ConsentVersion.Status.PUBLISHED)


def test_version_numbers_are_unique_per_document(docs):
    with pytest.raises(IntegrityError), transaction.atomic():
        draft(docs.terms.document, 1)
    draft(docs.privacy.document, 2)


def test_a_brand_has_one_document_per_kind_except_other(brand, docs):
    with pytest.raises(IntegrityError), transaction.atomic():
        document(brand, ConsentDocument.Kind.MARKETING, required=False)
    document(brand, ConsentDocument.Kind.OTHER, required=False)
    document(brand, ConsentDocument.Kind.OTHER, required=False)
    assert brand.consent_documents.filter(kind=ConsentDocument.Kind.OTHER).count() == 2


def test_title_and_content_follow_the_language_with_thai_as_fallback(docs):
    assert docs.terms.document.title_for("en") == "Terms of service"
    assert docs.terms.document.title_for("th") == "ข้อกำหนดการใช้งาน"
    assert docs.terms.content_for("en-us") == "Text 1"
    assert docs.terms.content_for(None) == "เนื้อหา 1"
