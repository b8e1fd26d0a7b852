"""Broadcast fixtures: a brand on the fake LINE server with marketing consent, members, a segment."""

import uuid

import pytest

from campaigns.broadcasts.models import Broadcast
from campaigns.segments.models import Segment
from consent.models import ConsentDocument
from tests import factories
from tests.consent.conftest import document, grant, publish

TOKEN = "broadcast-channel-token"


@pytest.fixture
def line_brand(brand, fake_line):
    brand.line_channel_access_token = TOKEN
    brand.save()
    fake_line.add_channel(TOKEN)
    return brand


@pytest.fixture
def marketing(line_brand):
    return publish(document(line_brand, ConsentDocument.Kind.MARKETING, required=False), 1)


@pytest.fixture
def segment(line_brand):
    return Segment.objects.create(brand=line_brand, name="Everyone", definition={})


class People:
    """Makes members: on LINE (a friend of the fake OA) or not, with or without marketing consent."""

    def __init__(self, brand, fake_line, marketing):
        self.brand, self.fake, self.marketing = brand, fake_line, marketing

    def make(self, first_name="Somchai", *, line=True, consent=True, phone=None, email="", language="th",
             blocked=False, **fields):
        member = factories.MemberFactory(
            brand=self.brand, first_name=first_name, language=language, phone=phone, email=email,
            line_user_id=f"U{uuid.uuid4().hex}" if line else None,
            line_reachable=line and not blocked, **fields)
        if line:
            self.fake.add_user(member.line_user_id, display_name=first_name, blocked=blocked)
        if consent:
            grant(member, self.marketing)
        return member

    def many(self, count, **options):
        return [self.make(f"Member{index}", **options) for index in range(count)]


@pytest.fixture
def people(line_brand, fake_line, marketing):
    return People(line_brand, fake_line, marketing)


def make_broadcast(brand, segment, **fields) -> Broadcast:
    values = {"name": "Songkran promo", "text_th": "สวัสดีค่ะ สงกรานต์นี้รับแต้มสองเท่า",
              "text_en": "Double points this Songkran"}
    values.update(fields)
    return Broadcast.objects.create(brand=brand, segment=segment, **values)


def inbox_counts(fake_line, members) -> dict[str, int]:
    """First name → messages that member's LINE received (the fake counts real deliveries)."""
    return {member.first_name: len(fake_line.inbox(member.line_user_id)) for member in members}
