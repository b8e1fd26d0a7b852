"""The member portal with the Django test client: identity, registration, card, rewards, profile."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Coupon, LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
from members import sms
from members.card import card_token
from members.models import Member, MemberChange, ProfileField
from tests import factories
from tests.liff.conftest import publish


def code_from_sms() -> str:
    phone, text = sms.outbox[-1]
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_pages_without_a_session_show_the_liff_sign_in_and_never_a_member(client, portal_brand):
    response = client.get(f"/liff/{portal_brand.slug}/card/")
    assert response.status_code == 200
    assert b'data-authenticated="0"' in response.content and b"liff" in response.content


def test_a_pending_member_is_sent_to_registration(client, pending_member, portal_brand):
    response = client.get(f"/liff/{portal_brand.slug}/card/")
    assert response.status_code == 302 and response["Location"].endswith("/register/")


@pytest.fixture
def send_code(client, django_capture_on_commit_callbacks):
    """Ask for the SMS code; the SMS leaves after commit, as in production."""

    def send(brand, phone):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/liff/{brand.slug}/register/", {"phone": phone, "action": "send_code"})

    return send


def register_post(client, brand, **values):
    data = {"first_name": "Malee", "last_name": "Srisuk", "phone": "081 555 0001", "birth_date": "1995-04-01",
            "gender": "female", "email": "malee@example.com", "language": "th", "action": "register"}
    data.update(values)
    return client.post(f"/liff/{brand.slug}/register/", data)


def test_registration_with_otp_custom_fields_and_consents_activates_the_member(client, pending_member, portal_brand,
                                                                              consents, send_code):
    ProfileField.objects.create(brand=portal_brand, key="interests", label_th="ความสนใจ", kind="multi_choice",
                                choices=[{"value": "coffee", "th": "กาแฟ"}, {"value": "cake", "th": "เค้ก"}],
                                required=True)
    sent = send_code(portal_brand, "081-555-0001")
    assert sent.status_code == 200 and "+66815550001" in sent.content.decode()
    assert sms.outbox[-1][0] == "+66815550001"

    missing_consent = register_post(client, portal_brand, code=code_from_sms(), custom_interests=["coffee"],
                                    consents=[consents["terms"].pk])
    assert missing_consent.status_code == 400
    pending_member.refresh_from_db()
    assert pending_member.status == Member.Status.PENDING

    done = register_post(client, portal_brand, code=code_from_sms(), custom_interests=["coffee", "cake"],
                         consents=[consents["terms"].pk, consents["privacy"].pk])
    assert done.status_code == 302 and "/card/" in done["Location"]
    pending_member.refresh_from_db()
    assert pending_member.status == Member.Status.ACTIVE
    assert pending_member.phone == "+66815550001"
    assert pending_member.custom_fields == {"interests": ["cake", "coffee"]}
    from consent.selectors import consent_status

    status = consent_status(member=pending_member)
    assert status[consents["terms"].document_id] and not status[consents["marketing"].document_id]


def test_a_wrong_code_registers_nothing(client, pending_member, portal_brand, consents, send_code):
    send_code(portal_brand, "0815550001")
    wrong = "000000" if code_from_sms() != "000000" else "111111"
    response = register_post(client, portal_brand, code=wrong,
                             consents=[consents["terms"].pk, consents["privacy"].pk])
    assert response.status_code == 400
    pending_member.refresh_from_db()
    assert pending_member.status == Member.Status.PENDING and pending_member.phone is None


def test_registering_the_phone_of_a_pending_pos_member_merges_their_points_once(client, pending_member,
                                                                               portal_brand, consents, send_code):
    from members.services import member_get_or_create_pending

    phone_member, _ = member_get_or_create_pending(brand=portal_brand, phone="0815550001")
    expiry = timezone.now() + timedelta(days=40)
    factories.give_points(phone_member, 120, key="pos-earn", expires_at=expiry)
    send_code(portal_brand, "0815550001")
    response = register_post(client, portal_brand, code=code_from_sms(),
                             consents=[consents["terms"].pk, consents["privacy"].pk])
    assert response.status_code == 302, response.content[:2000]
    phone_member.refresh_from_db()
    assert (phone_member.status, phone_member.merged_into_id, phone_member.phone) == (
        Member.Status.MERGED, pending_member.pk, None)
    assert PointAccount.objects.get(member=pending_member).balance == 120
    assert PointAccount.objects.get(member=phone_member).balance == 0
    moved_in = LedgerEntry.objects.get(account__member=pending_member, kind="transfer")
    assert moved_in.lot.expires_at == expiry
    assert ledger_mismatches() == []


def test_card_shows_a_qr_whose_token_the_api_accepts_and_a_tampered_or_old_one_it_refuses(
        client, active_member, portal_brand, time_machine):
    page = client.get(f"/liff/{portal_brand.slug}/card/")
    assert page.status_code == 200 and active_member.code.encode() in page.content and b"<svg" in page.content
    fresh = client.get(f"/liff/{portal_brand.slug}/card/qr/").json()
    assert fresh["expires_in"] == 60 and fresh["svg"].startswith("<svg")

    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key(brand=portal_brand)[1]}")
    token = card_token(active_member)
    ok = api.post("/api/v1/member-cards/verify/", {"token": token}, format="json")
    assert ok.status_code == 200 and ok.json()["code"] == active_member.code
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    bad = api.post("/api/v1/member-cards/verify/", {"token": tampered}, format="json")
    assert bad.json()["error"]["code"] == "card_invalid"
    forged_member = token.replace(f".{active_member.pk}:", f".{active_member.pk + 1}:")
    assert api.post("/api/v1/member-cards/verify/", {"token": forged_member},
                    format="json").json()["error"]["code"] == "card_invalid"
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    old = api.post("/api/v1/member-cards/verify/", {"token": token}, format="json")
    assert old.json()["error"]["code"] == "card_expired"


def test_rewards_show_what_the_member_can_afford_and_redeeming_issues_a_coupon_once(client, active_member,
                                                                                   portal_brand):
    cheap = factories.RewardFactory(brand=portal_brand, name="Cookie", points_cost=50, stock=3)
    dear = factories.RewardFactory(brand=portal_brand, name="Mug", points_cost=500)
    factories.give_points(active_member, 100, key="seed")
    page = client.get(f"/liff/{portal_brand.slug}/rewards/").content.decode()
    assert f"/rewards/{cheap.pk}/redeem/" in page and f"/rewards/{dear.pk}/redeem/" not in page
    assert "Not enough points" in page

    confirm = client.get(f"/liff/{portal_brand.slug}/rewards/{cheap.pk}/redeem/")
    request_id = re.search(r'name="request_id" value="([^"]+)"', confirm.content.decode()).group(1)
    first = client.post(f"/liff/{portal_brand.slug}/rewards/{cheap.pk}/redeem/", {"request_id": request_id})
    again = client.post(f"/liff/{portal_brand.slug}/rewards/{cheap.pk}/redeem/", {"request_id": request_id})
    assert first.status_code == again.status_code == 302
    coupon = Coupon.objects.get(member=active_member)
    assert PointAccount.objects.get(member=active_member).balance == 50
    coupons_page = client.get(first["Location"]).content.decode()
    assert coupon.display_code in coupons_page and "<svg" in coupons_page


def test_points_page_shows_history_and_points_expiring_soon(client, active_member, portal_brand):
    factories.give_points(active_member, 30, key="soon", expires_at=timezone.now() + timedelta(days=5))
    factories.give_points(active_member, 70, key="later", expires_at=timezone.now() + timedelta(days=300))
    page = client.get(f"/liff/{portal_brand.slug}/points/").content.decode()
    assert 'data-testid="expiring"' in page and "30 points expire" in page
    assert page.count("+30") == 1 and page.count("+70") == 1


def test_profile_changes_apply_at_once_and_are_audited(client, active_member, portal_brand):
    ProfileField.objects.create(brand=portal_brand, key="channel", label_th="ช่องทาง", kind="choice",
                                choices=[{"value": "line", "th": "LINE"}, {"value": "email", "th": "อีเมล"}])
    response = client.post(f"/liff/{portal_brand.slug}/profile/", {
        "first_name": "Noknoi", "last_name": "Dee", "email": "nok@example.com", "birth_date": "1990-01-02",
        "gender": "female", "language": "en", "custom_channel": "line"})
    assert response.status_code == 200 and b"Saved." in response.content
    active_member.refresh_from_db()
    assert (active_member.first_name, active_member.custom_fields) == ("Noknoi", {"channel": "line"})
    changed = set(MemberChange.objects.filter(member=active_member).values_list("field", flat=True))
    assert {"first_name", "email", "birth_date", "gender", "custom:channel"} <= changed
    bad = client.post(f"/liff/{portal_brand.slug}/profile/", {"first_name": "", "last_name": "Dee",
                                                             "custom_channel": "fax", "language": "en"})
    assert bad.status_code == 400
    active_member.refresh_from_db()
    assert active_member.first_name == "Noknoi"


def test_a_new_required_consent_version_is_asked_before_anything_else(client, active_member, portal_brand):
    new_terms = publish(portal_brand, "terms", True, "ข้อกำหนดการใช้งาน", "ฉบับใหม่", version=2)
    response = client.get(f"/liff/{portal_brand.slug}/card/")
    assert response.status_code == 302 and response["Location"].endswith("/consents/")
    refused = client.post(f"/liff/{portal_brand.slug}/consents/", {})
    assert refused.status_code == 400
    accepted = client.post(f"/liff/{portal_brand.slug}/consents/", {"consents": [new_terms.pk]})
    assert accepted.status_code == 302
    assert client.get(f"/liff/{portal_brand.slug}/card/").status_code == 200


def test_another_brands_member_session_sees_nothing_here(client, active_member, fake_line):
    other = factories.brand_with_program(slug="other-cafe", name="Other")
    response = client.get(f"/liff/{other.slug}/card/")
    assert b'data-authenticated="0"' in response.content
    assert active_member.code.encode() not in response.content


@pytest.mark.parametrize("page", ["card", "points", "rewards", "coupons", "profile"])
def test_every_page_renders_in_thai_and_english(client, active_member, portal_brand, page):
    english = client.get(f"/liff/{portal_brand.slug}/{page}/?lang=en")
    thai = client.get(f"/liff/{portal_brand.slug}/{page}/?lang=th")
    assert english.status_code == thai.status_code == 200
    assert english.content != thai.content


def test_embedded_card_allows_only_the_brands_origins(client, active_member, portal_brand):
    portal_brand.embed_origins = "https://shop.example.com\nhttps://www.example.com"
    portal_brand.save()
    response = client.get(f"/liff/{portal_brand.slug}/embed/card/")
    assert response.status_code == 200
    from config.csp import parse

    policy = parse(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'self' https://shop.example.com https://www.example.com"
    assert policy["script-src"].startswith("'self' ")
    assert "X-Frame-Options" not in response
