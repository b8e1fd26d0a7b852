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


# --- portal (LIFF) and LINE fixtures for the privacy centre, erasure and enforcement tests -------

LOGIN_CHANNEL = "1650000099"
CHANNEL_TOKEN = "consent-channel-token"
MEMBER_LINE_ID = "U" + "c" * 32


@pytest.fixture
def line_brand(brand, fake_line):
    """``brand`` with a LINE Login channel (LIFF) and a Messaging API channel on the fake server."""
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.line_channel_secret = "consent-channel-secret"
    brand.line_channel_access_token = CHANNEL_TOKEN
    brand.save()
    fake_line.add_channel(CHANNEL_TOKEN, login_channel_id=LOGIN_CHANNEL)
    return brand


def liff_member(client, fake_line, brand, docs: Documents, *, line_user_id: str = MEMBER_LINE_ID,
                marketing: bool | None = True):
    """A registered member signed in through the LIFF session, terms and privacy accepted."""
    import json as _json

    from members.models import Member

    token = fake_line.mint_id_token(line_user_id, brand.line_login_channel_id)
    response = client.post(f"/liff/{brand.slug}/session/", data=_json.dumps({"id_token": token}),
                           content_type="application/json", HTTP_USER_AGENT="Line/14.10.0")
    assert response.status_code == 200, response.content
    member = Member.objects.get(brand=brand, line_user_id=line_user_id)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, first_name="Nok", last_name="Dee",
                                               phone="+66812223344", email="nok@example.com", language="en",
                                               line_reachable=True)
    member.refresh_from_db()
    fake_line.add_user(line_user_id, display_name="Nok")
    grant(member, docs.terms)
    grant(member, docs.privacy)
    if marketing is not None:
        grant(member, docs.marketing, marketing)
    return member


@pytest.fixture
def portal_member(client, fake_line, line_brand, docs):
    return liff_member(client, fake_line, line_brand, docs)
