"""Regressions found in review, in the staff admin: the view-only point account page, the
reward form (stock and brand read-only, "Add to stock", only changed fields written),
currencies of another brand, brand-scoped list filters, member phones, the bounded
adjust form, where messages live, and LINE secrets that are never rendered back.

Every test drives the real admin through Django's test client with a logged-in staff user.
"""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.models import EarnRule, PointAccount, Reward
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from members.admin_base import BrandScopedAdmin
from members.models import Brand, Member
from tests import factories
from tests.members.test_admin import (
    adjust,
    adjust_entries,
    balance_of,
    ledger_snapshot,
    logged_in,
    messages_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(brand):
    return factories.staff_user(brands=[brand], username="staff-a")


@pytest.fixture
def staff_client(staff):
    return logged_in(staff)


@pytest.fixture
def two_brand_client(brand, other_brand):
    """A manager of both brands: the form's choices alone do not keep the brands apart."""
    return logged_in(factories.staff_user(brands=[brand, other_brand], username="two-brands"))


@pytest.fixture
def account(member):
    factories.give_points(member, 100, key="opening")
    return PointAccount.objects.get(member=member)


def change_form_data(client, url: str) -> dict:
    """What the browser posts back when staff open ``url`` and press Save without editing."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):  # split date and time
            data.update({f"{name}_{index}": part or "" for index, part in enumerate(value)})
        else:
            data[name] = value
    return data


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


# --- the point account page is view-only ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_point_account_change_page_is_view_only_and_refuses_a_save(brand, account, who):
    user = (factories.staff_user(username="root", superuser=True) if who == "superuser"
            else factories.staff_user(brands=[brand], username="staff-a"))
    client = logged_in(user)
    url = reverse("admin:loyalty_pointaccount_change", args=[account.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert b'name="_save"' not in page.content
    assert reverse("admin:loyalty_pointaccount_adjust", args=[account.pk]).encode() in page.content
    factories.give_points(account.member, 40, key="earned-while-the-page-was-open")
    assert client.post(url, {"_save": "Save"}).status_code == 403
    assert balance_of(account) == 140
    assert ledger_mismatches() == []


# --- rewards: stock and brand are read-only, only changed fields are written ------------------------------


def reward_url(reward) -> str:
    return reverse("admin:loyalty_reward_change", args=[reward.pk])


def redeem_times(reward, count: int) -> None:
    for index in range(count):
        member = factories.MemberFactory(brand=reward.brand)
        factories.give_points(member, reward.points_cost, key=f"for-redeem-{index}")
        reward_redeem(brand=reward.brand, member=member, reward_id=reward.pk, request_id=f"redeem-{index}")


def test_saving_a_reward_keeps_the_redemptions_made_while_the_form_was_open(staff_client, brand):
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=10, name="Tote")
    data = change_form_data(staff_client, reward_url(reward))  # staff opens the page: stock 10
    redeem_times(reward, 5)
    data["name"] = "Tote bag"  # and only fixes a typo
    response = staff_client.post(reward_url(reward), data)
    assert response.status_code == 302, form_errors(response)
    reward.refresh_from_db()
    assert (reward.name, reward.stock) == ("Tote bag", 5)


def reward_columns_written(queries) -> list[list[str]]:
    """The columns each UPDATE of the reward table sets."""
    updates = [query["sql"] for query in queries if query["sql"].startswith('UPDATE "loyalty_reward" SET')]
    return [re.findall(r'"(\w+)" = ', sql.split(" WHERE ")[0]) for sql in updates]


def test_saving_a_reward_writes_only_the_fields_staff_changed(staff_client, brand):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=10, name="Mug")
    data = change_form_data(staff_client, reward_url(reward))
    data["name_en"] = "Mug (EN)"
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.post(reward_url(reward), data)
    assert response.status_code == 302, form_errors(response)
    assert reward_columns_written(queries.captured_queries) == [["name_en", "updated_at"]]
    reward.refresh_from_db()
    assert (reward.name_en, reward.points_cost, reward.stock) == ("Mug (EN)", 100, 10)


def test_stock_and_brand_posted_to_the_reward_change_form_are_ignored(two_brand_client, brand, other_brand):
    reward = factories.RewardFactory(brand=brand, stock=10)
    page = two_brand_client.get(reward_url(reward))
    assert {"stock", "brand"} <= set(page.context["adminform"].readonly_fields)
    data = change_form_data(two_brand_client, reward_url(reward))
    data.update(stock=999, brand=other_brand.pk)
    response = two_brand_client.post(reward_url(reward), data)
    assert response.status_code == 302, form_errors(response)
    reward.refresh_from_db()
    assert (reward.stock, reward.brand_id) == (10, brand.pk)


def test_add_stock_adds_to_the_stock_as_it_is_when_saved(staff_client, brand):
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=10)
    data = change_form_data(staff_client, reward_url(reward))
    redeem_times(reward, 2)
    data["add_stock"] = 5
    response = staff_client.post(reward_url(reward), data)
    assert response.status_code == 302, form_errors(response)
    assert Reward.objects.get(pk=reward.pk).stock == 13


def test_removing_more_stock_than_is_left_is_an_error_message_and_keeps_the_stock(staff_client, brand):
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=3)
    data = change_form_data(staff_client, reward_url(reward))
    data["add_stock"] = -5
    response = staff_client.post(reward_url(reward), data, follow=True)
    assert "This reward is out of stock." in messages_of(response)
    assert Reward.objects.get(pk=reward.pk).stock == 3
    data["add_stock"] = -3
    staff_client.post(reward_url(reward), data)
    assert Reward.objects.get(pk=reward.pk).stock == 0


# --- a currency of another brand is refused ---------------------------------------------------------------


def test_reward_add_form_refuses_a_currency_of_another_brand(two_brand_client, brand, other_brand):
    url = reverse("admin:loyalty_reward_add")
    body = {"brand": brand.pk, "name": "Mixed", "points_cost": 1, "coupon_valid_days": 30, "is_active": "on",
            "stock": 5}
    response = two_brand_client.post(url, {**body, "currency": other_brand.currencies.get().pk})
    assert "currency" in form_errors(response)
    assert not Reward.objects.exists()
    response = two_brand_client.post(url, {**body, "currency": brand.currencies.get().pk})
    assert response.status_code == 302
    assert Reward.objects.get().stock == 5  # stock is set freely when the reward is created


def test_reward_change_form_refuses_a_currency_of_another_brand(two_brand_client, brand, other_brand):
    reward = factories.RewardFactory(brand=brand)
    data = change_form_data(two_brand_client, reward_url(reward))
    data["currency"] = other_brand.currencies.get().pk
    response = two_brand_client.post(reward_url(reward), data)
    assert Reward.objects.get(pk=reward.pk).currency.brand_id == brand.pk
    assert "currency" in form_errors(response)


@pytest.mark.parametrize("change", [False, True], ids=["add", "change"])
def test_earn_rule_form_refuses_a_currency_of_another_brand(two_brand_client, brand, other_brand, change):
    rule = EarnRule.objects.get(brand=brand)
    url = reverse("admin:loyalty_earnrule_change", args=[rule.pk]) if change else reverse("admin:loyalty_earnrule_add")
    body = {"brand": brand.pk, "currency": other_brand.currencies.get().pk, "name": "Cross", "spend_amount": "10",
            "points": 1, "minimum_spend": "0", "is_active": "on"}
    response = two_brand_client.post(url, body)
    assert "currency" in form_errors(response)
    assert sorted(EarnRule.objects.values_list("brand_id", "currency__brand_id", "name")) == sorted(
        [(brand.pk, brand.pk, rule.name), (other_brand.pk, other_brand.pk, "")])


# --- list filters name only the staff user's brands' rows -------------------------------------------------


def test_point_account_currency_filter_lists_only_the_staff_brands_currencies(staff_client, brand, other_brand,
                                                                              account):
    brand.currencies.update(name="Acme-Beans")
    other_brand.currencies.update(name="Brand-B-Secret-Currency")
    page = staff_client.get(reverse("admin:loyalty_pointaccount_changelist")).content.decode()
    assert "Acme-Beans" in page
    assert "Brand-B-Secret-Currency" not in page
    assert f"currency__id__exact={other_brand.currencies.get().pk}" not in page


def brand_owned(model) -> bool:
    return model is not None and (model in (Brand, Member) or any(f.name == "brand" for f in model._meta.fields))


def test_every_list_filter_on_a_brand_owned_relation_lists_only_related_rows(staff):
    request = RequestFactory().get("/admin/")
    request.user = staff
    unscoped = []
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, BrandScopedAdmin):
            continue
        for entry in model_admin.get_list_filter(request):
            if not isinstance(entry, (str, tuple, list)):
                continue  # a SimpleListFilter subclass defines its own (non-relational) choices
            path = entry if isinstance(entry, str) else entry[0]
            related = model_admin._related_model(path)
            if brand_owned(related) and (isinstance(entry, str) or entry[1] is not admin.RelatedOnlyFieldListFilter):
                unscoped.append(f"{model._meta.label}.{path}")
    assert unscoped == []


# --- members: E.164 phones, a brand that never changes ----------------------------------------------------


def member_body(brand, **values) -> dict:
    return {"brand": brand.pk, "first_name": "Nok", "status": "active", "gender": "", "language": "th", **values}


def test_member_added_with_a_thai_phone_is_stored_in_e164_and_the_pos_finds_them(staff_client, brand, pos_client):
    response = staff_client.post(reverse("admin:members_member_add"), member_body(brand, phone="081-234-5678"))
    assert response.status_code == 302, form_errors(response)
    member = Member.objects.get()
    assert member.phone == "+66812345678"
    response = pos_client.post("/api/v1/purchases/", {"order_id": "O1", "member": {"phone": "0812345678"},
                                                      "total": "100.00"}, format="json")
    assert response.status_code == 201, response.content
    assert list(Member.objects.values_list("pk", flat=True)) == [member.pk]
    assert member.accounts.get().balance == 4


def test_member_phone_changed_in_the_admin_is_normalised(staff_client, member):
    url = reverse("admin:members_member_change", args=[member.pk])
    data = change_form_data(staff_client, url)
    data["phone"] = "08 9876 5432"
    response = staff_client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    assert Member.objects.get(pk=member.pk).phone == "+66898765432"


@pytest.mark.parametrize("phone", ["12345", "not a phone", "+66 12"])
def test_an_invalid_member_phone_is_a_form_error(staff_client, brand, phone):
    response = staff_client.post(reverse("admin:members_member_add"), member_body(brand, phone=phone))
    assert "phone" in form_errors(response)
    assert not Member.objects.exists()


def test_a_member_brand_cannot_be_changed_in_the_admin(two_brand_client, member, other_brand):
    url = reverse("admin:members_member_change", args=[member.pk])
    page = two_brand_client.get(url)
    assert "brand" in page.context["adminform"].readonly_fields
    data = change_form_data(two_brand_client, url)
    data.update(brand=other_brand.pk, first_name="Renamed")
    response = two_brand_client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    member.refresh_from_db()
    assert (member.brand_id, member.first_name) == (member.brand.pk, "Renamed")
    assert member.brand_id != other_brand.pk


@pytest.mark.parametrize(("field", "typed"), [("phone", "081-234-5678"), ("line_user_id", None)])
def test_a_value_taken_by_another_member_is_a_form_error_on_change(staff_client, brand, member, field, typed):
    taken = factories.MemberFactory(brand=brand, phone="+66812345678")
    url = reverse("admin:members_member_change", args=[member.pk])
    data = change_form_data(staff_client, url)
    data[field] = typed or getattr(taken, field)
    staff_client.raise_request_exception = False
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert form_errors(response)  # on the field or the form, but shown to staff
    assert getattr(Member.objects.get(pk=member.pk), field) == getattr(member, field)


# --- the adjust form bounds the amount --------------------------------------------------------------------


@pytest.mark.parametrize("amount", [10**19, -(10**19), 100_000_001, -100_000_001])
def test_adjust_amount_out_of_bounds_is_a_form_error_and_writes_nothing(staff_client, account, amount):
    before = ledger_snapshot()
    response = adjust(staff_client, account, str(amount))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["amount"]
    assert ledger_snapshot() == before
    assert balance_of(account) == 100


def test_adjust_accepts_the_bound_itself(staff_client, account):
    assert adjust(staff_client, account, "100000001", request_key="over").status_code == 200
    assert adjust(staff_client, account, "100000000", request_key="at").status_code == 302
    assert adjust_entries(account).get().amount == 100_000_000
    assert balance_of(account) == 100_000_100
    assert ledger_mismatches() == []


def test_adjust_with_an_overlong_request_key_is_a_form_error_not_a_server_error(staff_client, account):
    staff_client.raise_request_exception = False
    before = ledger_snapshot()
    response = adjust(staff_client, account, 5, request_key="k" * 300)
    assert response.status_code == 200
    assert "request_key" in response.context["form"].errors
    assert ledger_snapshot() == before


# --- messages live in the session; LINE secrets are never rendered back -----------------------------------


def test_a_new_api_key_travels_in_the_session_not_in_a_cookie(staff_client, brand):
    response = staff_client.post(reverse("admin:members_apikey_add"),
                                 {"brand": brand.pk, "branch": "", "name": "Till 1", "channel": "pos"})
    assert response.status_code == 302
    assert "messages" not in response.cookies
    shown = " ".join(messages_of(staff_client.get(response["Location"])))
    raw_key = re.search(r"taem_[A-Za-z0-9_-]{20,}", shown).group(0)
    assert all(raw_key not in morsel.value for morsel in staff_client.cookies.values())


SECRET = "channel-secret-0123456789abcdef"
TOKEN = "access-token-fedcba9876543210"


@pytest.fixture
def brand_with_secrets(brand):
    brand.line_channel_secret, brand.line_channel_access_token = SECRET, TOKEN
    brand.save()
    return brand


def brand_url(brand) -> str:
    return reverse("admin:members_brand_change", args=[brand.pk])


def brand_body(brand, **values) -> dict:
    return {"name": brand.name, "slug": brand.slug, "is_active": "on", "line_channel_id": "1650000000",
            "line_channel_secret": "", "line_channel_access_token": "", "line_login_channel_id": "",
            "liff_id": "", **values}


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_brand_change_page_never_renders_the_line_secrets(brand_with_secrets, who):
    user = (factories.staff_user(username="root", superuser=True) if who == "superuser"
            else factories.staff_user(brands=[brand_with_secrets], username="staff-a"))
    page = logged_in(user).get(brand_url(brand_with_secrets))
    assert page.status_code == 200
    assert 'name="line_channel_secret"' in (content := page.content.decode())
    assert SECRET not in content
    assert TOKEN not in content


def test_brand_saved_with_blank_secrets_keeps_the_stored_ones(staff_client, brand_with_secrets):
    response = staff_client.post(brand_url(brand_with_secrets), brand_body(brand_with_secrets, name="Renamed"))
    assert response.status_code == 302, form_errors(response)
    brand = Brand.objects.get(pk=brand_with_secrets.pk)
    assert (brand.name, brand.line_channel_secret, brand.line_channel_access_token) == ("Renamed", SECRET, TOKEN)


def test_brand_saved_with_a_new_secret_replaces_only_that_secret(staff_client, brand_with_secrets):
    response = staff_client.post(brand_url(brand_with_secrets),
                                 brand_body(brand_with_secrets, line_channel_secret="rotated-secret"))
    assert response.status_code == 302, form_errors(response)
    brand = Brand.objects.get(pk=brand_with_secrets.pk)
    assert (brand.line_channel_secret, brand.line_channel_access_token) == ("rotated-secret", TOKEN)
