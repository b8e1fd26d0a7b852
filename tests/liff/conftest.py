import json

import pytest
from django.utils import timezone

from members.models import Member
from tests import factories

LOGIN_CHANNEL = "1650000077"


@pytest.fixture(autouse=True)
def _sms_locmem(settings):
    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    from members import sms

    sms.outbox.clear()


@pytest.fixture
def portal_brand(db, fake_line):
    brand = factories.brand_with_program(slug="cafe", name="Cafe")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    return brand


def publish(brand, kind="terms", required=True, title="ข้อกำหนด", content="เนื้อหา", version=1):
    from consent.models import ConsentDocument, ConsentVersion

    document, _ = ConsentDocument.objects.get_or_create(
        brand=brand, kind=kind, defaults={"title_th": title, "title_en": title, "is_required": required})
    now = timezone.now()
    return ConsentVersion.objects.create(document=document, version=version, content_th=content, content_en=content,
                                        status="published", effective_at=now, published_at=now)


@pytest.fixture
def consents(portal_brand):
    return {"terms": publish(portal_brand, "terms", True, "ข้อกำหนดการใช้งาน"),
            "privacy": publish(portal_brand, "privacy", True, "นโยบายความเป็นส่วนตัว"),
            "marketing": publish(portal_brand, "marketing", False, "รับข่าวสารการตลาด")}


def liff_login(client, fake_line, brand, user_id):
    token = fake_line.mint_id_token(user_id, brand.line_login_channel_id)
    response = client.post(f"/liff/{brand.slug}/session/", data=json.dumps({"id_token": token}),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return Member.objects.get(brand=brand, line_user_id=user_id)


@pytest.fixture
def pending_member(client, fake_line, portal_brand):
    return liff_login(client, fake_line, portal_brand, "U" + "1" * 32)


@pytest.fixture
def active_member(client, fake_line, portal_brand, consents):
    member = liff_login(client, fake_line, portal_brand, "U" + "2" * 32)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, first_name="Nok", last_name="Dee",
                                               phone="+66812223344", language="en")
    from consent.services import consent_record

    member.refresh_from_db()
    for version in consents.values():
        consent_record(member=member, version=version, granted=True, channel="liff")
    return member
