from datetime import datetime
from decimal import Decimal

import pytest
from django.db import transaction

from campaigns.leaderboards.models import Race, RacePrize
from campaigns.leaderboards.services import race_activate
from loyalty.services.earning import purchase_record, purchase_refund
from loyalty.services.ledger import BANGKOK, Channel


def bangkok(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)


def make_race(brand, *, starts_at, ends_at, metric=Race.Metric.SPEND, top_n=3, prizes=(), tiers=(),
              activate=True, now=None, **extra) -> Race:
    extra = {"name": "แข่งยอดซื้อ", "name_en": "Top spender", **extra}
    race = Race.objects.create(brand=brand, metric=metric, period=Race.Period.CUSTOM, starts_at=starts_at,
                               ends_at=ends_at, top_n=top_n, **extra)
    race.audience_tiers.set(tiers)
    for rank_from, rank_to, points, reward in prizes:
        RacePrize.objects.create(race=race, rank_from=rank_from, rank_to=rank_to, points=points, reward=reward)
    if activate:
        race = race_activate(race_id=race.pk, now=now or starts_at)
    return race


@pytest.fixture
def buy(django_capture_on_commit_callbacks):
    """Record a purchase through the real service and deliver its events (as after a commit)."""

    def record(member, total, at, order_id):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                                   total=Decimal(total), lines=[], purchased_at=at).purchase

    return record


@pytest.fixture
def refund(django_capture_on_commit_callbacks):
    def record(purchase, amount):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return purchase_refund(brand=purchase.brand, purchase_id=purchase.pk, amount=Decimal(amount)).refund

    return record


from tests.liff.conftest import active_member, consents, portal_brand  # noqa: E402, F401 - portal fixtures
