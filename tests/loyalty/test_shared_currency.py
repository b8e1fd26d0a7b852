"""A group currency owned by one brand and shared with another brand of the same company.

Members of both brands earn and spend it; each brand's staff see only their own members'
accounts; a brand it is not shared with can neither earn it nor pick it in the admin.
"""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import EarnRule, PointAccount, PointCurrency, Reward
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel, account_get_or_create
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from tests import factories
from tests.members.test_admin import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(brand, other_brand):
    """'Group coins' of ``brand`` (1 coin per 100 THB), shared with ``other_brand``."""
    coins = PointCurrency.objects.create(brand=brand, code="group", name="Group coins")
    coins.shared_with.add(other_brand)
    for owner in (brand, other_brand):
        EarnRule.objects.create(brand=owner, currency=coins, spend_amount=Decimal("100"), points=1)
    return coins


def buy(member, order_id, total):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))],
                           purchased_at=timezone.now())


def test_members_of_both_brands_earn_the_group_currency_next_to_their_own(brand, other_brand, group):
    ours = factories.MemberFactory(brand=brand)
    theirs = factories.MemberFactory(brand=other_brand)
    first = buy(ours, "A-1", "1000.00")
    second = buy(theirs, "B-1", "500.00")
    assert sorted((e.currency, e.points) for e in first.earned) == [("group", 10), ("points", 40)]
    assert sorted((e.currency, e.points) for e in second.earned) == [("group", 5), ("points", 20)]
    account = PointAccount.objects.get(member=theirs, currency=group)
    assert (account.brand_id, account.balance) == (other_brand.pk, 5)  # the member's brand owns the account
    assert ledger_mismatches() == []


def test_a_reward_of_the_sharing_brand_is_priced_and_paid_in_the_group_currency(other_brand, group):
    theirs = factories.MemberFactory(brand=other_brand)
    buy(theirs, "B-2", "1500.00")
    reward = Reward.objects.create(brand=other_brand, currency=group, name="Mug", points_cost=12)
    result = reward_redeem(brand=other_brand, member=theirs, reward_id=reward.pk, request_id="r-1")
    assert result.redemption.points == 12
    assert PointAccount.objects.get(member=theirs, currency=group).balance == 3
    assert ledger_mismatches() == []


def test_a_brand_the_currency_is_not_shared_with_cannot_hold_it(group):
    stranger = factories.MemberFactory(brand=factories.brand_with_program(slug="third", name="Third"))
    with pytest.raises(ValueError):
        account_get_or_create(member=stranger, currency=group)


def test_each_brands_staff_see_only_their_own_members_accounts_of_the_group_currency(brand, other_brand, group):
    buy(factories.MemberFactory(brand=brand, first_name="Ours"), "A-3", "1000.00")
    buy(factories.MemberFactory(brand=other_brand, first_name="Theirs"), "B-3", "1000.00")
    staff = logged_in(factories.staff_user(brands=[other_brand], username="other-staff"))
    page = staff.get(reverse("admin:loyalty_pointaccount_changelist") + f"?currency__id__exact={group.pk}")
    assert page.status_code == 200
    listed = list(page.context["cl"].queryset)
    assert [a.member.first_name for a in listed] == ["Theirs"]


def test_the_reward_form_offers_the_shared_currency_to_the_sharing_brand_only(brand, other_brand, group):
    third = factories.brand_with_program(slug="third", name="Third")
    staff = logged_in(factories.staff_user(brands=[other_brand, third], username="two-brands"))
    url = reverse("admin:loyalty_reward_add")
    body = {"name": "Tote", "points_cost": 5, "coupon_valid_days": 30, "is_active": "on", "currency": group.pk}
    assert group in staff.get(url).context["adminform"].form.fields["currency"].queryset
    refused = staff.post(url, {**body, "brand": third.pk})
    assert refused.status_code == 200 and "currency" in refused.context["adminform"].form.errors
    accepted = staff.post(url, {**body, "brand": other_brand.pk})
    assert accepted.status_code == 302
    assert Reward.objects.get(name="Tote").currency == group
