"""Who may do what with a browser session: staff of brand A in the admin against brand B's
rows (every brand-scoped admin, discovered, not listed by hand), a cashier against the
admin, member A against member B's rows in the LIFF portal (ids guessed in URLs and forms),
and CSRF on every session POST (LIFF and cashier).

(tests/members/test_admin.py covers nine admins by hand; tests/cashier covers the cashier's
branch scoping, voiding another cashier's award and another brand's coupon;
tests/liff and tests/receipts cover another brand's session and another member's receipt.)
"""

import json
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from consent.models import ConsentDocument, ConsentRecord
from loyalty.models import CashierAction, Coupon, LedgerEntry, PointAccount, Redemption
from loyalty.receipts.models import Receipt, ReceiptRule
from loyalty.services.redemption import reward_redeem
from members.admin_base import BrandScopedAdmin
from members.demo import demo_seed
from members.models import Brand, Member, StaffAssignment
from tests import factories
from tests.liff.conftest import liff_login, publish

LOGIN_CHANNEL = "1650000888"


# --- staff of brand A against brand B in the admin -----------------------------------------------


def scoped_by_brand_path(model_admin) -> bool:
    """Scoped by BrandScopedAdmin's own queryset filter (not a subclass's own get_queryset)."""
    return type(model_admin).get_queryset is BrandScopedAdmin.get_queryset


def brand_b_rows() -> list[tuple[type, object, object]]:
    """(model, admin, one row of the demo brand) for every brand-scoped admin that has such a row."""
    found = []
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, BrandScopedAdmin) or not scoped_by_brand_path(model_admin):
            continue
        row = model_admin.model._default_manager.filter(**{f"{model_admin.brand_path}__slug": "demo"}).first()
        if row is not None:
            found.append((model, model_admin, row))
    return found


@pytest.fixture
def demo_and_staff_a(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_seed()  # brand B: the demo brand, with rows in most admins
    brand_a = factories.brand_with_program(slug="brand-a", name="Brand A")
    client = Client()
    client.force_login(factories.staff_user(brands=[brand_a], username="staff-a"))
    return client


def test_staff_of_brand_a_open_no_change_page_and_list_no_row_of_brand_b(demo_and_staff_a):
    client = demo_and_staff_a
    checked = []
    for model, _model_admin, row in brand_b_rows():
        info = model._meta.app_label, model._meta.model_name
        try:
            change = reverse("admin:{}_{}_change".format(*info), args=[row.pk])
            changelist = reverse("admin:{}_{}_changelist".format(*info))
        except NoReverseMatch:
            continue
        theirs = client.get(change)
        missing = client.get(reverse("admin:{}_{}_change".format(*info), args=[10**12]))
        assert (theirs.status_code, theirs.get("Location")) == (missing.status_code, missing.get("Location")), change
        assert theirs.status_code in (302, 403, 404), change
        listing = client.get(changelist)
        if listing.status_code == 200 and listing.context and "cl" in listing.context:
            assert row not in listing.context["cl"].queryset, changelist
        checked.append(model._meta.label)
    assert len(checked) >= 20, checked  # the demo brand fills most admins; a new scoped admin joins by itself


def test_every_brand_owned_admin_is_brand_scoped():
    """A model with a brand (directly or through its member, account or purchase) is registered with a
    BrandScopedAdmin whose brand_path really leads to the Brand; nothing else holds brand data."""
    unscoped = []
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, BrandScopedAdmin) and scoped_by_brand_path(model_admin):
            related = model_admin._related_model(model_admin.brand_path)
            assert related is Brand, (model._meta.label, model_admin.brand_path)
        elif not isinstance(model_admin, BrandScopedAdmin) and any(field.is_relation and field.related_model in (Brand, Member) for field in model._meta.fields):
            unscoped.append(model._meta.label)
    assert unscoped == [], unscoped


# --- a cashier against the admin -------------------------------------------------------------------


@pytest.fixture
def cashier_client(brand):
    user = get_user_model().objects.create_user(username="till", password="pw-for-tests")
    StaffAssignment.objects.create(user=user, brand=brand, role=StaffAssignment.Role.CASHIER)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", [
    "/admin/", "/admin/members/member/", "/admin/loyalty/ledgerentry/", "/admin/members/apikey/",
    "/admin/members/apikey/add/", "/admin/loyalty/reward/", "/admin/auth/user/", "/admin/members/brand/",
    "/admin/receipts/receipt/", "/admin/campaigns_broadcasts/broadcast/",
])
def test_a_cashier_is_sent_to_the_admin_login_and_sees_no_data(cashier_client, brand, member, url):
    response = cashier_client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    page = cashier_client.get(response["Location"])
    assert member.code not in page.content.decode() and brand.name not in page.content.decode()


def test_a_cashier_cannot_post_to_the_admin(cashier_client, brand, member):
    response = cashier_client.post(f"/admin/members/member/{member.pk}/change/", {"first_name": "Hacked"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Member.objects.get(pk=member.pk).first_name != "Hacked"


# --- member A against member B in the LIFF portal --------------------------------------------------


@pytest.fixture
def portal(db, fake_line, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    brand = factories.brand_with_program(slug="portal", name="Portal")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    for kind in ("terms", "privacy"):
        publish(brand, kind, True)
    return brand


def signed_in(client, fake_line, brand, user_id) -> Member:
    fake_line.add_user(user_id)
    member = liff_login(client, fake_line, brand, user_id)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE, first_name="Member", language="en",
                                               registered_at=timezone.now())
    member.refresh_from_db()
    from consent.selectors import consent_versions_current
    from consent.services import consent_record

    for version in consent_versions_current(brand=brand):
        consent_record(member=member, version=version, granted=True, channel="liff")
    return member


@pytest.fixture
def two_members(client, fake_line, portal):
    """Member A signed in with ``client``; member B (same brand) with points, a coupon and a receipt."""
    member_a = signed_in(client, fake_line, portal, "U" + "a" * 32)
    member_b = factories.MemberFactory(brand=portal, first_name="Bee", last_name="Secret")
    factories.give_points(member_b, 300, key="seed-b")
    reward = factories.RewardFactory(brand=portal, points_cost=100, name="Shared reward")
    coupon_b = reward_redeem(brand=portal, member=member_b, reward_id=reward.pk, request_id="b-1").redemption.coupon
    return member_a, member_b, reward, coupon_b


def test_member_a_sees_none_of_member_bs_coupons_points_or_name(client, portal, two_members):
    member_a, member_b, _reward, coupon_b = two_members
    for page in ("coupons", "points", "card", "profile", "rewards"):
        html = client.get(f"/liff/{portal.slug}/{page}/").content.decode()
        for secret in (coupon_b.code, coupon_b.display_code if hasattr(coupon_b, "display_code") else coupon_b.code,
                       member_b.code, "Secret", "b-1"):
            assert secret not in html, (page, secret)


@pytest.mark.parametrize("parameter", ["member", "member_id", "code", "account", "as"])
def test_member_a_cannot_switch_member_with_a_query_parameter(client, portal, two_members, parameter):
    member_a, member_b, _reward, coupon_b = two_members
    for page in ("coupons", "points", "card"):
        value = member_b.code if parameter in ("code", "as") else str(member_b.pk)
        html = client.get(f"/liff/{portal.slug}/{page}/?{parameter}={value}").content.decode()
        assert coupon_b.code not in html and member_b.code not in html and "Secret" not in html


def test_member_a_cannot_redeem_for_member_b_or_another_brands_reward(client, portal, two_members, other_brand):
    member_a, member_b, reward, _coupon_b = two_members
    theirs = factories.RewardFactory(brand=other_brand, points_cost=1)
    factories.give_points(member_a, 5, key="seed-a")
    before = (Redemption.objects.count(), sorted(PointAccount.objects.values_list("pk", "balance")))
    response = client.post(f"/liff/{portal.slug}/rewards/{theirs.pk}/redeem/",
                           {"request_id": str(uuid.uuid4()), "member": member_b.pk})
    assert response.status_code == 404
    # A member id slipped into the form is ignored: the redemption (if any) is always the session's member.
    client.post(f"/liff/{portal.slug}/rewards/{reward.pk}/redeem/",
                {"request_id": str(uuid.uuid4()), "member": member_b.pk, "member_id": member_b.pk})
    assert Redemption.objects.filter(member=member_b).count() == 1
    assert PointAccount.objects.get(member=member_b).balance == 200
    assert (Redemption.objects.count(), sorted(PointAccount.objects.values_list("pk", "balance"))) == before


def test_member_a_cannot_see_member_bs_receipt_image_or_claim(client, portal, two_members):
    member_a, member_b, _reward, _coupon = two_members
    ReceiptRule.objects.create(brand=portal, auto_approve=False)
    receipt = Receipt.objects.create(brand=portal, member=member_b, upload_key=str(uuid.uuid4()), sha256="0" * 64,
                                     phash="0" * 16, image_width=1, image_height=1)
    for guess in (receipt.pk, receipt.pk + 1, 0):
        assert client.get(f"/liff/{portal.slug}/receipts/{guess}/image/").status_code == 404
    entry = LedgerEntry.objects.filter(account__member=member_b).first()
    page = client.get(f"/liff/{portal.slug}/claim/?claimed={entry.pk}").content.decode()
    assert "Secret" not in page and member_b.code not in page


def test_another_brands_consent_document_is_not_found(client, portal, two_members, other_brand):
    version = publish(other_brand, "terms", True, title="Other brand's terms")
    response = client.get(f"/liff/{portal.slug}/privacy/documents/{version.document_id}/")
    assert response.status_code == 404
    before = ConsentRecord.objects.count()
    client.post(f"/liff/{portal.slug}/privacy/", {"action": "withdraw", "document": version.document_id})
    assert ConsentRecord.objects.count() == before
    assert ConsentDocument.objects.filter(brand=other_brand).count() == 1


# --- CSRF on session POSTs ------------------------------------------------------------------------


def test_the_liff_session_endpoint_refuses_a_post_without_csrf(portal, fake_line):
    fake_line.add_user("U" + "c" * 32)
    client = Client(enforce_csrf_checks=True)
    token = fake_line.mint_id_token("U" + "c" * 32, portal.line_login_channel_id)
    response = client.post(f"/liff/{portal.slug}/session/", data=json.dumps({"id_token": token}),
                           content_type="application/json")
    assert response.status_code == 403
    assert not Member.objects.filter(line_user_id="U" + "c" * 32).exists()
    assert "_auth_user_id" not in client.session


@pytest.fixture
def csrf_member(portal, fake_line):
    """A signed-in member whose client enforces CSRF (as a browser's cookie jar would)."""
    client = Client(enforce_csrf_checks=True)
    user_id = "U" + "e" * 32
    fake_line.add_user(user_id)
    member = factories.MemberFactory(brand=portal, line_user_id=user_id, status=Member.Status.ACTIVE)
    client.force_login(member.user if member.user_id else _user_for(member))
    factories.give_points(member, 500, key="seed-csrf")
    return client, member


def _user_for(member: Member):
    from members.services import member_line_login

    return member_line_login(brand=member.brand, line_user_id=member.line_user_id).user


@pytest.mark.parametrize(("path", "data"), [
    ("rewards/{reward}/redeem/", {"request_id": "00000000-0000-4000-8000-000000000001"}),
    ("profile/", {"first_name": "Changed", "language": "th"}),
    ("consents/", {"consents": []}),
    ("privacy/", {"action": "withdraw", "document": "1"}),
    ("privacy/erase/", {"confirm": "DELETE", "reason": "csrf"}),
    ("claim/", {"code": "ABCD-EFGH", "request_id": "00000000-0000-4000-8000-000000000002"}),
    ("receipts/", {"upload_key": "00000000-0000-4000-8000-000000000003"}),
    ("activity/check-in/", {}),
    ("register/", {"phone": "0812345678"}),
])
def test_a_liff_post_without_csrf_token_is_403_and_changes_nothing(csrf_member, portal, path, data):
    client, member = csrf_member
    reward = factories.RewardFactory(brand=portal, points_cost=10)
    if path == "receipts/":
        data = {**data, "image": SimpleUploadedFile("r.jpg", b"\xff\xd8", content_type="image/jpeg")}
    before = (Member.objects.filter(pk=member.pk).values().get(), PointAccount.objects.get(member=member).balance,
              Redemption.objects.count(), Receipt.objects.count(), ConsentRecord.objects.count())
    response = client.post(f"/liff/{portal.slug}/{path.format(reward=reward.pk)}", data)
    assert response.status_code == 403, (path, response.status_code)
    after = (Member.objects.filter(pk=member.pk).values().get(), PointAccount.objects.get(member=member).balance,
             Redemption.objects.count(), Receipt.objects.count(), ConsentRecord.objects.count())
    assert after == before
    assert with_csrf_token(client, f"/liff/{portal.slug}/{path.format(reward=reward.pk)}", data) != 403


def with_csrf_token(client, url: str, data: dict) -> int:
    """The same POST with the token a page gives: not refused, so the 403 above was CSRF's."""
    client.get("/cashier/login/")  # any page that renders a form sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    for value in data.values():
        if hasattr(value, "seek"):
            value.seek(0)
    return client.post(url, data, HTTP_X_CSRFTOKEN=token).status_code


@pytest.fixture
def csrf_cashier(brand, member):
    user = get_user_model().objects.create_user(username="csrf-till", password="pw-for-tests")
    assignment = StaffAssignment.objects.create(user=user, brand=brand, role=StaffAssignment.Role.CASHIER)
    main = brand.branches.get(code="MAIN")
    assignment.branches.set([main])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client, main


@pytest.mark.parametrize(("path", "data"), [
    ("branch/", {"branch": "{main}"}),
    ("identify/", {"code": "{member}"}),
    ("award/", {"amount": "500", "request_key": "k-1"}),
    ("coupon/", {"code": "{coupon}", "request_key": "k-2"}),
    ("coupon/check/", {"code": "{coupon}"}),
    ("void/1/", {}),
    ("clear/", {}),
    ("logout/", {}),
])
def test_a_cashier_post_without_csrf_token_is_403_and_changes_nothing(csrf_cashier, brand, member, path, data):
    client, main = csrf_cashier
    factories.give_points(member, 200, key="seed-till")
    reward = factories.RewardFactory(brand=brand, points_cost=10)
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="till-r").redemption.coupon
    values = {key: value.format(main=main.pk, member=member.code, coupon=coupon.code) for key, value in data.items()}
    before = (CashierAction.objects.count(), LedgerEntry.objects.count(),
              Coupon.objects.get(pk=coupon.pk).status, dict(client.session))
    response = client.post(f"/cashier/{path}", values)
    assert response.status_code == 403, (path, response.status_code)
    assert (CashierAction.objects.count(), LedgerEntry.objects.count(), Coupon.objects.get(pk=coupon.pk).status,
            dict(client.session)) == before
    assert with_csrf_token(client, f"/cashier/{path}", values) != 403


def test_the_cashier_login_refuses_a_post_without_csrf(brand):
    get_user_model().objects.create_user(username="login-till", password="pw-for-tests")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/cashier/login/", {"username": "login-till", "password": "pw-for-tests"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
