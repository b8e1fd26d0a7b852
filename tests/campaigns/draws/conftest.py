"""Lucky-draw fixtures: an open draw of ``brand`` with a coupon prize and a points prize."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.draws.models import LuckyDraw, Prize
from campaigns.draws.services import draw_open
from tests import factories


def make_draw(brand, *, ticket_cost=100, max_tickets=None, prizes=(("รางวัลใหญ่", "Grand prize", 1, None, 1000),),
              consolation=False, open_now=True, **dates) -> LuckyDraw:
    """A draw whose entries opened an hour ago, close in a day and are drawn an hour after.

    ``prizes``: (name, name_en, quantity, reward, points) in prize order.
    """
    now = timezone.now()
    draw = LuckyDraw.objects.create(
        brand=brand, name="จับรางวัลปีใหม่", name_en="New Year lucky draw", currency=brand.currencies.get(is_default=True),
        ticket_cost=ticket_cost, max_tickets_per_member=max_tickets, consolation_enabled=consolation,
        entries_open_at=dates.get("opens", now - timedelta(hours=1)),
        entries_close_at=dates.get("closes", now + timedelta(days=1)),
        draw_at=dates.get("draw_at", now + timedelta(days=1, hours=1)))
    for position, (name, name_en, quantity, reward, points) in enumerate(prizes, start=1):
        Prize.objects.create(draw=draw, position=position, name=name, name_en=name_en, quantity=quantity,
                             reward=reward, points=points)
    if open_now:
        draw_open(draw=draw)
    return draw


@pytest.fixture
def draw(brand):
    return make_draw(brand, max_tickets=5)


@pytest.fixture
def rich_member(member):
    factories.give_points(member, 1000, key="test:rich")
    return member
