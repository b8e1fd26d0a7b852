"""Erasure: personal data gone, financial and legal rows kept without the person, the LINE user forgotten."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from consent.errors import DataAccessReasonRequired
from consent.models import ConsentAnonymisation, ConsentRecord, PersonalDataAccess
from loyalty.models import Coupon, LedgerEntry, PointAccount, Purchase
from loyalty.services.verification import ledger_mismatches
from members.erasure import MemberAlreadyErased, erasure_rules_missing, member_erase
from members.models import Member, MemberChange
from members.services import member_line_login
from messaging import line_events
from messaging.models import LineWebhookEvent, MessageDelivery, OutboundMessage
from tests import factories

from .personal_rows import fill
from .test_data_export import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def erase(member, django_capture_on_commit_callbacks, **kwargs):
    staff = kwargs.pop("staff_user", None) or get_user_model().objects.filter(username="dpo").first() or \
        factories.staff_user(brands=[member.brand], username="dpo")
    with django_capture_on_commit_callbacks(execute=True):
        return member_erase(member=member, reason=kwargs.pop("reason", "PDPA request #12"), staff_user=staff,
                            **kwargs)


def test_every_model_pointing_at_members_has_an_erasure_rule():
    assert erasure_rules_missing() == []


def test_erasure_removes_personal_fields_and_keeps_ledger_purchases_and_the_consent_log(
        portal_member, docs, django_capture_on_commit_callbacks):
    rows = fill(portal_member)
    image = rows["receipt"].image.name
    assert default_storage.exists(image)
    account = PointAccount.objects.get(member=portal_member)
    balance, entries = account.balance, LedgerEntry.objects.filter(account=account).count()
    user_id, line_user_id, code = portal_member.user_id, portal_member.line_user_id, portal_member.code

    erase(portal_member, django_capture_on_commit_callbacks)

    member = Member.objects.get(pk=portal_member.pk)
    assert (member.first_name, member.last_name, member.display_name, member.phone, member.email, member.birth_date,
            member.gender, member.line_user_id, member.custom_fields, member.user_id) == (
        "", "", "", None, "", None, "", None, {}, None)
    assert member.status == Member.Status.SUSPENDED and member.code != code and not member.line_reachable
    # Financial rows stay, still the member row's, and still add up.
    assert PointAccount.objects.get(pk=account.pk).balance == balance == 300 + 10
    assert LedgerEntry.objects.filter(account=account).count() == entries
    assert ledger_mismatches() == []
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().startswith(f"Ledger clean: {PointAccount.objects.count()} accounts")
    purchase = Purchase.objects.get(pk=rows["purchase"].pk)
    assert (purchase.member_id, str(purchase.total), purchase.lines.count()) == (member.pk, "250.00", 2)
    assert Coupon.objects.get(pk=rows["coupon"].pk).member_id == member.pk
    # The consent log keeps every decision; only IP and user agent go, and that is recorded.
    records = ConsentRecord.objects.filter(member=member)
    assert [(r.document.kind, r.granted) for r in records.order_by("id")] == [
        ("terms", True), ("privacy", True), ("marketing", True)]
    assert set(records.values_list("ip", "user_agent")) == {(None, "")}
    anonymisation = ConsentAnonymisation.objects.get()
    assert (anonymisation.member, anonymisation.records, anonymisation.reason) == (member, 3, "PDPA request #12")
    # Free text, images and contact details elsewhere.
    receipt = type(rows["receipt"]).objects.get(pk=rows["receipt"].pk)
    assert (receipt.image.name, receipt.ocr_text, receipt.store_text) == ("", "", "")
    assert not default_storage.exists(image)
    assert list(member.product_reviews.values_list("text", "rating")) == [("", 5)]
    assert list(member.survey_responses.values_list("answers", flat=True)) == [{"why": "", "flavour": "dark"}]
    assert set(MemberChange.objects.filter(member=member).values_list("old_value", "new_value")) == {("", "")}
    assert MessageDelivery.objects.filter(member=member).exclude(line_user_id="").count() == 0
    assert OutboundMessage.objects.get(template="hello").messages == []
    # The login is gone: renamed, disabled, no LINE social account.
    user = get_user_model().objects.get(pk=user_id)
    assert not user.is_active and user.username.startswith("erased-")
    from allauth.socialaccount.models import SocialAccount

    assert not SocialAccount.objects.filter(uid=line_user_id).exists()
    # The erasure is audited.
    access = PersonalDataAccess.objects.get(action="erasure")
    assert (access.member, access.channel, access.reason) == (member, "staff", "PDPA request #12")


def test_a_staff_erasure_needs_a_reason_and_happens_once(portal_member, django_capture_on_commit_callbacks):
    with pytest.raises(DataAccessReasonRequired):
        erase(portal_member, django_capture_on_commit_callbacks, reason="  ")
    assert Member.objects.get(pk=portal_member.pk).first_name == "Nok"  # nothing written
    erase(portal_member, django_capture_on_commit_callbacks)
    with pytest.raises(MemberAlreadyErased):
        erase(portal_member, django_capture_on_commit_callbacks)
    assert PersonalDataAccess.objects.filter(action="erasure").count() == 1


def test_a_later_follow_of_the_same_line_user_starts_a_new_empty_member(portal_member, fake_line, client,
                                                                        line_brand, django_capture_on_commit_callbacks):
    line_user_id = portal_member.line_user_id
    erase(portal_member, django_capture_on_commit_callbacks)

    body = line_events.body([line_events.follow(line_user_id, fake_line.issue_reply_token(line_user_id))])
    signature = line_events.signature(line_brand.line_channel_secret, body)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/line/webhook/{line_brand.slug}/", data=body, content_type="application/json",
                               headers={"X-Line-Signature": signature})
    assert response.status_code == 200
    new = Member.objects.get(brand=line_brand, line_user_id=line_user_id)
    assert new.pk != portal_member.pk
    assert (new.status, new.first_name, new.phone, new.user_id) == (Member.Status.PENDING, "", None, None)
    assert not PointAccount.objects.filter(member=new).exists()
    assert not ConsentRecord.objects.filter(member=new).exists()
    assert LineWebhookEvent.objects.get(event_type="follow").line_user_id == line_user_id  # the new event

    # Signing in through LIFF again gets a new user too, not the erased one.
    again = member_line_login(brand=line_brand, line_user_id=line_user_id, display_name="Nok")
    assert again.pk == new.pk and again.user_id is not None and again.user.is_active


def test_the_member_erases_their_own_account_from_the_portal(client, portal_member, line_brand,
                                                             django_capture_on_commit_callbacks):
    url = reverse("liff:privacy:erase", args=[line_brand.slug])
    assert client.get(url).status_code == 200
    refused = client.post(url, {"confirm": "yes"})
    assert refused.status_code == 400 and Member.objects.get(pk=portal_member.pk).first_name == "Nok"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": "delete", "reason": "moving abroad"})
    assert response.status_code == 200 and 'data-testid="erased"' in response.content.decode()
    member = Member.objects.get(pk=portal_member.pk)
    assert (member.first_name, member.line_user_id, member.user_id) == ("", None, None)
    access = PersonalDataAccess.objects.get()
    assert (access.channel, access.staff_user, access.reason) == ("member", None, "moving abroad")
    # Signed out: the portal asks to sign in again.
    assert client.get(reverse("liff:card", args=[line_brand.slug])).context["member"] is None


def test_staff_erase_from_the_member_privacy_page_after_typing_the_member_code(portal_member, line_brand):
    client, user = staff_client(line_brand)
    url = reverse("admin:consent_member_erase", args=[portal_member.pk])
    client.post(url, {"erase-reason": "ticket 9", "erase-confirm": "WRONG"})
    assert Member.objects.get(pk=portal_member.pk).first_name == "Nok"
    client.post(url, {"erase-reason": "ticket 9", "erase-confirm": portal_member.code.lower()})
    member = Member.objects.get(pk=portal_member.pk)
    assert member.first_name == "" and member.status == Member.Status.SUSPENDED
    access = PersonalDataAccess.objects.get()
    assert (access.staff_user, access.reason, access.action) == (user, "ticket 9", "erasure")
    # The export after erasure holds nothing personal.
    data = json.loads(client.post(reverse("admin:consent_member_export", args=[member.pk]),
                                  {"export-reason": "check"}).content)
    assert (data["profile"]["first_name"], data["profile"]["phone"], data["profile"]["line_user_id"]) == ("", None,
                                                                                                          None)


def test_members_merged_into_the_erased_one_are_erased_too(portal_member, line_brand,
                                                           django_capture_on_commit_callbacks):
    merged = factories.MemberFactory(brand=line_brand, phone="+66899999999", status=Member.Status.MERGED,
                                     merged_into=portal_member, line_user_id=None)
    erase(portal_member, django_capture_on_commit_callbacks)
    merged.refresh_from_db()
    assert (merged.phone, merged.first_name, merged.status) == (None, "", Member.Status.MERGED)
