"""Consent fixtures: a brand with published terms, privacy policy (both required) and marketing consent."""

from dataclasses import dataclass

import pytest

from consent.models import ConsentDocument, ConsentRecord, ConsentVersion
from consent.services import consent_record, consent_version_publish
from members.models import Brand

TITLES = {
    ConsentDocument.Kind.TERMS: ("ข้อกำหนดการใช้งาน", "Terms of service"),
    ConsentDocument.Kind.PRIVACY: ("นโยบายความเป็นส่วนตัว", "Privacy policy"),
    ConsentDocument.Kind.MARKETING: ("รับข่าวสารและโปรโมชัน", "News and offers"),
}


def document(brand: Brand, kind: str, *, required: bool) -> ConsentDocument:
    title_th, title_en = TITLES.get(kind, ("เอกสารอื่น", "Other document"))
    return ConsentDocument.objects.create(brand=brand, kind=kind, title_th=title_th, title_en=title_en,
                                          is_required=required)


def draft(document: ConsentDocument, version: int, **fields) -> ConsentVersion:
    return ConsentVersion.objects.create(document=document, version=version,
                                         content_th=fields.pop("content_th", f"เนื้อหา {version}"),
                                         content_en=fields.pop("content_en", f"Text {version}"), **fields)


def publish(document: ConsentDocument, version: int, *, effective_at=None) -> ConsentVersion:
    return consent_version_publish(version=draft(document, version), effective_at=effective_at)


def grant(member, version: ConsentVersion, granted: bool = True) -> ConsentRecord:
    return consent_record(member=member, version=version, granted=granted, channel=ConsentRecord.Channel.LIFF,
                          ip="203.0.113.7", user_agent="Line/14.0")


@dataclass
class Documents:
    terms: ConsentVersion
    privacy: ConsentVersion
    marketing: ConsentVersion


def publish_documents(brand: Brand) -> Documents:
    return Documents(
        terms=publish(document(brand, ConsentDocument.Kind.TERMS, required=True), 1),
        privacy=publish(document(brand, ConsentDocument.Kind.PRIVACY, required=True), 1),
        marketing=publish(document(brand, ConsentDocument.Kind.MARKETING, required=False), 1),
    )


@pytest.fixture
def docs(brand) -> Documents:
    return publish_documents(brand)


@pytest.fixture
def other_docs(other_brand) -> Documents:
    return publish_documents(other_brand)
