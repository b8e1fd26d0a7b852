"""The chat command "tier" / "ระดับ" / "สถานะ" replies with a Flex tier card; tier rich menus."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from loyalty.models import MemberTier, Tier, TierProgram
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from messaging import line_events
from messaging.rich_menus import rich_menu_key_for, rich_menu_keys
from tests.messaging.test_webhook import flex_text

BKK = ZoneInfo("Asia/Bangkok")


@pytest.fixture
def tiers(line_brand):
    TierProgram.objects.create(brand=line_brand, metric="spend", period="calendar_year")
    return {
        "silver": Tier.objects.create(brand=line_brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1),
        "gold": Tier.objects.create(brand=line_brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                                    threshold=Decimal("10000"), earn_multiplier=Decimal("1.5"), own_rich_menu=True,
                                    benefits_en="Free upsize", benefits="อัปไซส์ฟรี"),
    }


@pytest.mark.parametrize("text", ["tier", "ระดับ", "สถานะ", " Tier "])
def test_the_tier_command_replies_with_the_tier_card(webhook, line_member, fake_line, tiers, text):
    with time_machine.travel(datetime(2026, 9, 1, 12, 0, tzinfo=BKK), tick=False):
        purchase_record(brand=line_member.brand, member=line_member, channel=Channel.POS, order_id="T-1",
                        total=Decimal("6800"), lines=[LineInput(amount=Decimal("6800"))],
                        purchased_at=datetime(2026, 9, 1, 11, 0, tzinfo=BKK))
        MemberTier.objects.create(member=line_member, brand=line_member.brand, tier=tiers["silver"],
                                  qualified_until=datetime(2028, 1, 1, tzinfo=BKK))
        before = len(fake_line.inbox(line_member.line_user_id))
        event = line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id),
                                         text)
        webhook.post([event])
    reply = fake_line.inbox(line_member.line_user_id)[before]
    assert reply["type"] == "flex" and reply["altText"] == "Your tier: Silver"
    text_shown = flex_text(reply)
    assert "Spend 3,200 THB more by 31 Dec 2026 to reach Gold." in text_shown
    assert "1 Jan 2028" in text_shown  # reviewed on


def test_a_gold_member_gets_the_gold_rich_menu(line_member, tiers):
    assert rich_menu_keys(line_member.brand) == ["unregistered", "member", "tier:gold"]
    assert rich_menu_key_for(line_member) == "member"
    MemberTier.objects.create(member=line_member, brand=line_member.brand, tier=tiers["gold"])
    assert rich_menu_key_for(line_member) == "tier:gold"
