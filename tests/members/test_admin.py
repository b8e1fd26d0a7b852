"""The staff admin: brand scoping, the read-only ledger, the adjust-points view, API keys.

Every test drives the real admin through Django's test client with a logged-in staff user
(the "Brand managers" group from ``members.demo``), so permissions, querysets and forms are
the ones staff get in production.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Coupon, LedgerEntry, PointAccount, Purchase, Redemption, Reward
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel, account_get_or_create
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from members.models import ApiKey, Branch, Brand, Member
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass
class BrandData:
    """One brand's rows of every admin-visible kind."""

    brand: Brand
    branch: Branch
    member: Member
    account: PointAccount
    entry: LedgerEntry
    purchase: Purchase
    reward: Reward
    redemption: Redemption
    coupon: Coupon
    api_key: ApiKey


def brand_data(brand: Brand, tag: str) -> BrandData:
    branch = brand.branches.get(code="MAIN")
    member = factories.MemberFactory(brand=brand, first_name=f"Member-{tag}")
    entry = factories.give_points(member, 1000, key=f"seed-{tag}")
    purchase = purchase_record(
        brand=brand, member=member, channel=Channel.POS, order_id=f"ORDER-{tag}", total=Decimal("250.00"),
        lines=[LineInput(amount=Decimal("250.00"), sku="LATTE")], purchased_at=timezone.now(), branch=branch,
    ).purchase
    reward = factories.RewardFactory(brand=brand, name=f"Reward-{tag}", points_cost=100)
    redemption = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id=f"redeem-{tag}").redemption
    api_key, _raw = factories.api_key(brand=brand, name=f"Key-{tag}")
    return BrandData(
        brand=brand, branch=branch, member=member, account=entry.account, entry=entry, purchase=purchase,
        reward=reward, redemption=redemption, coupon=redemption.coupon, api_key=api_key,
    )


@pytest.fixture
def data_a(brand):
    return brand_data(brand, "A")


@pytest.fixture
def data_b(other_brand):
    return brand_data(other_brand, "B")


@pytest.fixture
def staff_a(brand):
    return factories.staff_user(brands=[brand], username="staff-a")


@pytest.fixture
def staff_b(other_brand):
    return factories.staff_user(brands=[other_brand], username="staff-b")


@pytest.fixture
def superuser(db):
    return factories.staff_user(username="root", superuser=True)


@pytest.fixture
def client_a(client, staff_a):
    client.force_login(staff_a)
    return client


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# (app_label, model_name, attribute of BrandData, brand id of a row)
SCOPED_ADMINS = [
    ("members", "member", "member", lambda row: row.brand_id),
    ("members", "branch", "branch", lambda row: row.brand_id),
    ("members", "apikey", "api_key", lambda row: row.brand_id),
    ("loyalty", "pointaccount", "account", lambda row: row.brand_id),
    ("loyalty", "ledgerentry", "entry", lambda row: row.brand_id),
    ("loyalty", "purchase", "purchase", lambda row: row.brand_id),
    ("loyalty", "reward", "reward", lambda row: row.brand_id),
    ("loyalty", "redemption", "redemption", lambda row: row.brand_id),
    ("loyalty", "coupon", "coupon", lambda row: row.brand_id),
]
SCOPED_IDS = [f"{app}.{model}" for app, model, _attr, _brand in SCOPED_ADMINS]


def changelist_rows(client, app: str, model: str) -> list:
    response = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200, response.content[:500]
    return list(response.context["cl"].queryset)


# --- brand scoping -----------------------------------------------------------------------


@pytest.mark.parametrize(("app", "model", "attr", "brand_of"), SCOPED_ADMINS, ids=SCOPED_IDS)
def test_staff_changelist_lists_only_their_brands_rows(client_a, data_a, data_b, app, model, attr, brand_of):
    rows = changelist_rows(client_a, app, model)
    assert getattr(data_a, attr) in rows
    assert getattr(data_b, attr) not in rows
    assert {brand_of(row) for row in rows} == {data_a.brand.pk}


@pytest.mark.parametrize(("app", "model", "attr", "brand_of"), SCOPED_ADMINS, ids=SCOPED_IDS)
def test_superuser_changelist_lists_every_brand(superuser, data_a, data_b, app, model, attr, brand_of):
    rows = changelist_rows(logged_in(superuser), app, model)
    assert getattr(data_a, attr) in rows
    assert getattr(data_b, attr) in rows


@pytest.mark.parametrize(("app", "model", "attr", "brand_of"), SCOPED_ADMINS, ids=SCOPED_IDS)
def test_other_brands_change_page_is_not_found(client_a, data_a, data_b, app, model, attr, brand_of):
    """Another brand's row answers exactly like a row that does not exist (Django's admin
    redirects to the index with "doesn't exist"), and nothing of it is shown."""
    other = getattr(data_b, attr)
    response = client_a.get(reverse(f"admin:{app}_{model}_change", args=[other.pk]))
    missing = client_a.get(reverse(f"admin:{app}_{model}_change", args=[10**9]))
    assert response.status_code in (302, 404)
    assert (response.status_code, response.get("Location")) == (missing.status_code, missing.get("Location"))
    assert str(other).encode() not in response.content
    own = client_a.get(reverse(f"admin:{app}_{model}_change", args=[getattr(data_a, attr).pk]))
    assert own.status_code == 200


def test_staff_sees_no_other_brand_in_the_index_or_brand_list(client_a, data_a, data_b):
    rows = changelist_rows(client_a, "members", "brand")
    assert rows == [data_a.brand]
    response = client_a.get(reverse("admin:members_brand_change", args=[data_b.brand.pk]))
    assert response.status_code == 302


def add_form_choices(client, app: str, model: str) -> dict[str, set]:
    response = client.get(reverse(f"admin:{app}_{model}_add"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    return {
        name: set(field.queryset) for name, field in form.fields.items() if hasattr(field, "queryset")
    }


def test_reward_add_form_offers_only_the_staff_brands_and_currencies(client_a, data_a, data_b):
    choices = add_form_choices(client_a, "loyalty", "reward")
    assert choices["brand"] == {data_a.brand}
    assert choices["currency"] == set(data_a.brand.currencies.all())


def test_branch_and_member_add_forms_offer_only_the_staff_brand(client_a, data_a, data_b):
    assert add_form_choices(client_a, "members", "branch")["brand"] == {data_a.brand}
    assert add_form_choices(client_a, "members", "member")["brand"] == {data_a.brand}


def test_api_key_add_form_offers_only_the_staff_brand_and_its_branches(client_a, data_a, data_b):
    choices = add_form_choices(client_a, "members", "apikey")
    assert choices["brand"] == {data_a.brand}
    assert choices["branch"] == set(data_a.brand.branches.all())


def test_superuser_add_form_offers_every_brand(superuser, data_a, data_b):
    choices = add_form_choices(logged_in(superuser), "loyalty", "reward")
    assert {data_a.brand, data_b.brand} <= choices["brand"]


def test_staff_cannot_create_a_reward_for_another_brand_by_posting_its_id(client_a, data_a, data_b):
    response = client_a.post(reverse("admin:loyalty_reward_add"), {
        "brand": data_b.brand.pk, "currency": data_b.brand.currencies.get().pk, "name": "Smuggled",
        "points_cost": 1, "coupon_valid_days": 30, "is_active": "on",
    })
    assert response.status_code == 200
    assert "brand" in response.context["adminform"].form.errors
    assert not Reward.objects.filter(name="Smuggled").exists()


def test_changelist_filters_do_not_name_other_brands(client_a, data_a, data_b):
    members = client_a.get(reverse("admin:members_member_changelist")).content.decode()
    assert data_a.brand.name in members  # the brand column
    purchases = client_a.get(reverse("admin:loyalty_purchase_changelist")).content.decode()
    for content in (members, purchases):
        assert data_b.brand.name not in content
        assert f"branch__id__exact={data_b.branch.pk}" not in content


# --- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["phone", "code", "line_user_id"])
def test_member_search_finds_by_phone_code_and_line_id(client_a, data_a, data_b, field):
    other_member = factories.MemberFactory(brand=data_a.brand)
    url = reverse("admin:members_member_changelist")
    response = client_a.get(url, {"q": getattr(data_a.member, field)})
    assert list(response.context["cl"].queryset) == [data_a.member]
    assert other_member.code.encode() not in response.content


def test_member_search_never_reaches_another_brand(client_a, data_a, data_b):
    response = client_a.get(reverse("admin:members_member_changelist"), {"q": data_b.member.phone})
    assert list(response.context["cl"].queryset) == []


# --- the ledger is read-only -------------------------------------------------------------


def ledger_snapshot():
    return list(LedgerEntry.objects.order_by("pk").values())


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_ledger_admin_refuses_add_change_and_delete(staff_a, superuser, data_a, who):
    client = logged_in(staff_a if who == "staff" else superuser)
    entry = data_a.entry
    before = ledger_snapshot()
    changelist = client.get(reverse("admin:loyalty_ledgerentry_changelist"))
    assert changelist.context["has_add_permission"] is False
    assert b'value="delete_selected"' not in changelist.content

    assert client.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403
    assert client.post(reverse("admin:loyalty_ledgerentry_add"), {
        "account": entry.account_id, "kind": "adjust", "amount": 5,
    }).status_code == 403
    change_url = reverse("admin:loyalty_ledgerentry_change", args=[entry.pk])
    assert client.get(change_url).status_code == 200  # viewable
    assert client.post(change_url, {"amount": 999999, "reason": "edited"}).status_code == 403
    delete_url = reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    client.post(reverse("admin:loyalty_ledgerentry_changelist"),
                {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert ledger_snapshot() == before
    assert ledger_mismatches() == []


def test_ledger_change_page_shows_no_save_button(client_a, data_a):
    response = client_a.get(reverse("admin:loyalty_ledgerentry_change", args=[data_a.entry.pk]))
    assert b'name="_save"' not in response.content
    assert response.context["has_change_permission"] is False


# --- adjust points -----------------------------------------------------------------------


@pytest.fixture
def account(member):
    factories.give_points(member, 100, key="opening")
    return account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))


def adjust_url(account) -> str:
    return reverse("admin:loyalty_pointaccount_adjust", args=[account.pk])


def adjust(client, account, amount, reason="Goodwill after a late order", request_key="req-1", follow=False):
    return client.post(adjust_url(account), {"amount": amount, "reason": reason, "request_key": request_key},
                       follow=follow)


def adjust_entries(account):
    return LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.ADJUST, channel=Channel.STAFF,
                                      staff_user__isnull=False)


def balance_of(account) -> int:
    return PointAccount.objects.get(pk=account.pk).balance


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_account_change_page_links_to_the_adjust_view(client_a, account):
    response = client_a.get(reverse("admin:loyalty_pointaccount_change", args=[account.pk]))
    assert adjust_url(account).encode() in response.content
    assert b"Adjust points" in response.content


def test_adjust_form_carries_a_fresh_request_key(client_a, account):
    first = client_a.get(adjust_url(account))
    second = client_a.get(adjust_url(account))
    assert first.status_code == 200
    assert b"Current balance: 100 points." in first.content
    keys = [response.context["form"]["request_key"].value() for response in (first, second)]
    assert all(keys) and keys[0] != keys[1]


def test_positive_adjustment_credits_through_the_ledger(client_a, staff_a, account):
    response = adjust(client_a, account, 120, reason="Birthday goodwill", follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:loyalty_pointaccount_change", args=[account.pk])
    assert "Adjusted +120 points; balance is now 220." in messages_of(response)
    entry = adjust_entries(account).get()
    assert (entry.amount, entry.balance_after, entry.staff_user, entry.reason) == (
        120, 220, staff_a, "Birthday goodwill")
    assert entry.idempotency_key == f"adjust:{account.pk}:req-1"
    assert entry.lot.remaining == 120
    assert balance_of(account) == 220
    assert ledger_mismatches() == []


def test_negative_adjustment_debits_through_the_ledger(client_a, staff_a, account):
    response = adjust(client_a, account, -30, reason="Duplicate earn at the till", follow=True)
    assert "Adjusted -30 points; balance is now 70." in messages_of(response)
    entry = adjust_entries(account).get()
    assert (entry.amount, entry.balance_after, entry.staff_user, entry.reason) == (
        -30, 70, staff_a, "Duplicate earn at the till")
    assert balance_of(account) == 70
    assert ledger_mismatches() == []


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_adjustment_without_a_reason_is_a_form_error_and_writes_nothing(client_a, account, reason):
    before = ledger_snapshot()
    response = adjust(client_a, account, 50, reason=reason)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert b"This field is required." in response.content
    assert ledger_snapshot() == before
    assert balance_of(account) == 100


def test_zero_adjustment_is_a_form_error_and_writes_nothing(client_a, account):
    before = ledger_snapshot()
    response = adjust(client_a, account, 0)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["Enter a non-zero number of points."]
    assert ledger_snapshot() == before


def test_debit_larger_than_the_balance_is_refused_and_writes_nothing(client_a, account):
    before = ledger_snapshot()
    response = adjust(client_a, account, -101)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Not enough points."]
    assert b"Not enough points." in response.content
    assert ledger_snapshot() == before
    assert balance_of(account) == 100
    assert ledger_mismatches() == []


def test_submitting_the_same_form_twice_writes_one_entry(client_a, account):
    first = adjust(client_a, account, 40, request_key="double-click")
    second = adjust(client_a, account, 40, request_key="double-click")
    assert first.status_code == second.status_code == 302
    assert adjust_entries(account).count() == 1
    assert balance_of(account) == 140
    assert ledger_mismatches() == []


def test_reused_request_key_with_another_amount_is_not_reported_as_done(client_a, account):
    adjust(client_a, account, 40, request_key="back-button", follow=True)  # shows (and consumes) its message
    response = adjust(client_a, account, -25, reason="Meant to remove", request_key="back-button", follow=True)
    assert not any(message.startswith("Adjusted") for message in messages_of(response))
    assert "already submitted with other values" in response.content.decode()
    assert adjust_entries(account).count() == 1
    assert balance_of(account) == 140


def test_staff_of_another_brand_cannot_open_or_post_the_adjust_view(staff_b, account):
    client = logged_in(staff_b)
    before = ledger_snapshot()
    assert client.get(adjust_url(account)).status_code == 404
    assert adjust(client, account, 500).status_code == 404
    assert ledger_snapshot() == before


def test_staff_without_ledger_permission_cannot_adjust(brand, account):
    from django.contrib.auth.models import Permission

    viewer = factories.staff_user(brands=[brand], username="viewer")
    viewer.groups.clear()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_pointaccount"))
    client = logged_in(viewer)
    assert client.get(adjust_url(account)).status_code == 403
    assert adjust(client, account, 5).status_code == 403
    assert adjust_entries(account).count() == 0


def test_adjust_view_requires_a_staff_login(client, account):
    response = client.get(adjust_url(account))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- API keys ----------------------------------------------------------------------------


def database_text_containing(needle: str) -> list[str]:
    """Every table whose rows, cast to text (all columns), contain ``needle``."""
    hits = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        for (table,) in cursor.fetchall():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*) FROM {quoted} AS t WHERE t::text LIKE %s",  # noqa: S608
                           [f"%{needle}%"])
            if cursor.fetchone()[0]:
                hits.append(table)
    return hits


def test_new_api_key_is_shown_once_stored_as_digest_and_authenticates(client_a, staff_a, data_a, data_b):
    response = client_a.post(reverse("admin:members_apikey_add"), {
        "brand": data_a.brand.pk, "branch": "", "name": "Till 7", "channel": "pos", "revoked_at_0": "", "revoked_at_1": "",
    }, follow=True)
    assert response.status_code == 200
    shown = [m for m in messages_of(response) if "shown once" in m]
    assert len(shown) == 1
    raw_key = re.search(r"(taem_[A-Za-z0-9_-]{20,})", shown[0]).group(1)

    key = ApiKey.objects.get(name="Till 7")
    assert (key.brand, key.branch, key.created_by) == (data_a.brand, None, staff_a)
    assert key.key_digest == ApiKey.digest(raw_key)
    assert raw_key.startswith(key.key_prefix) and len(key.key_prefix) < len(raw_key)
    assert database_text_containing(raw_key) == []
    for session in Session.objects.all():
        assert raw_key not in str(session.get_decoded())

    change_page = client_a.get(reverse("admin:members_apikey_change", args=[key.pk]))
    assert raw_key.encode() not in change_page.content
    assert raw_key not in " ".join(messages_of(change_page))

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    rewards = api.get("/api/v1/rewards/")
    assert rewards.status_code == 200, rewards.content
    body = rewards.json()
    names = {item["name"] for item in (body["results"] if isinstance(body, dict) else body)}
    assert data_a.reward.name in names
    assert data_b.reward.name not in names
    key.refresh_from_db()
    assert key.last_used_at is not None

    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}x")
    assert wrong.get("/api/v1/rewards/").status_code == 401


def test_revoked_api_key_no_longer_authenticates(client_a, data_a):
    key, raw_key = factories.api_key(brand=data_a.brand, name="Old till")
    client_a.post(reverse("admin:members_apikey_changelist"),
                  {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert api.get("/api/v1/rewards/").status_code == 401


def test_api_key_branch_must_belong_to_the_key_brand(brand, other_brand, data_a, data_b):
    staff = factories.staff_user(brands=[brand, other_brand], username="two-brands")
    response = logged_in(staff).post(reverse("admin:members_apikey_add"), {
        "brand": brand.pk, "branch": data_b.branch.pk, "name": "Cross", "channel": "pos", "revoked_at_0": "", "revoked_at_1": "",
    })
    assert not ApiKey.objects.filter(name="Cross").exists()
    assert response.status_code == 200
