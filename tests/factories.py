"""Factories for the whole suite. Points are only ever given through the ledger service."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from loyalty.models import EarnRule, PointCurrency, Reward
from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, points_post
from members.models import Branch, Brand, Member, StaffAssignment
from members.services import api_key_create


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.LazyAttribute(lambda o: f"Brand {o.slug}")
    line_channel_secret = "test-channel-secret"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"BR{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Branch {o.code}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    brand = factory.SubFactory(BrandFactory)
    line_user_id = factory.Sequence(lambda n: f"U{n:032x}")
    phone = factory.Sequence(lambda n: f"+6681{n:07d}")
    first_name = "Somchai"
    last_name = factory.Sequence(lambda n: f"Test{n}")
    status = Member.Status.ACTIVE


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    brand = factory.SubFactory(BrandFactory)
    currency = factory.LazyAttribute(lambda o: o.brand.currencies.get(is_default=True))
    name = factory.Sequence(lambda n: f"Reward {n}")
    points_cost = 100
    stock = None


def brand_with_program(slug: str = "acme", name: str = "Acme Coffee", validity_days: int | None = 365) -> Brand:
    """A brand with a default currency, the rule 25 THB = 1 point (round down) and a branch."""
    brand = BrandFactory(slug=slug, name=name)
    currency, _ = PointCurrency.objects.get_or_create(
        brand=brand, code="points", defaults={"name": "Points", "is_default": True,
                  "expiry_policy": "days" if validity_days is not None else "never",
                  "expiry_period": validity_days or 0}
    )
    EarnRule.objects.get_or_create(brand=brand, currency=currency, is_active=True,
                                   defaults={"spend_amount": Decimal("25"), "points": 1})
    BranchFactory(brand=brand, code="MAIN")
    return brand


def api_key(*, brand: Brand, branch: Branch | None = None, name: str = "POS"):
    return api_key_create(brand=brand, branch=branch, name=name)


def give_points(member: Member, amount: int, *, key: str, expires_at=None, currency=None):
    """Credit points the only legal way: through the ledger service."""
    currency = currency or member.brand.currencies.get(is_default=True)
    account = account_get_or_create(member=member, currency=currency)
    return points_post(account=account, amount=amount, kind=Kind.ADJUST, idempotency_key=key,
                       source=Source(channel=Channel.STAFF, reason="test"), expires_at=expires_at)


def staff_user(*, brands=(), username: str = "staff", superuser: bool = False, role=StaffAssignment.Role.MANAGER):
    from members.demo import manager_group

    User = get_user_model()
    user = User.objects.create_user(username=username, password="pw-for-tests", is_staff=True,
                                    is_superuser=superuser)
    user.groups.add(manager_group())
    for brand in brands:
        StaffAssignment.objects.create(user=user, brand=brand, role=role)
    return user
