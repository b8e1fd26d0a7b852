"""What members receive: placeholders in Thai and English, Flex cards, coupon drops, SMS and e-mail fallbacks."""

from decimal import Decimal

import pytest
from django.core import mail

from campaigns.broadcasts.models import Broadcast, BroadcastBatch, BroadcastRecipient
from campaigns.broadcasts.rendering import line_messages, preview_context
from campaigns.broadcasts.services import broadcast_send_batch, broadcast_start, broadcast_test_send
from loyalty.models import Coupon, MemberTier, Tier, TierProgram
from members import sms
from tests import factories

from .conftest import make_broadcast

MULTICAST = "/v2/bot/message/multicast"
PUSH = "/v2/bot/message/push"


@pytest.fixture
def tiers(line_brand):
    TierProgram.objects.create(brand=line_brand, metric=TierProgram.Metric.SPEND)
    silver = Tier.objects.create(brand=line_brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1,
                                 threshold=Decimal("0"))
    gold = Tier.objects.create(brand=line_brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                               threshold=Decimal("3000"))
    return silver, gold


def test_placeholders_are_filled_in_each_members_language(
        people, line_brand, segment, tiers, fake_line, django_capture_on_commit_callbacks):
    silver, gold = tiers
    malee = people.make("มาลี", language="th")
    john = people.make("John", language="en")
    MemberTier.objects.create(member=malee, brand=line_brand, tier=gold)
    MemberTier.objects.create(member=john, brand=line_brand, tier=silver)
    factories.give_points(malee, 1250, key="test:malee")
    factories.give_points(john, 80, key="test:john")
    broadcast = make_broadcast(line_brand, segment,
                               text_th="สวัสดีคุณ{first_name} ระดับ {tier} มี {points} แต้ม {unknown}",
                               text_en="Hi {first_name}, {tier} member with {points} points {unknown")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    assert fake_line.inbox(malee.line_user_id) == [
        {"type": "text", "text": "สวัสดีคุณมาลี ระดับ โกลด์ มี 1,250 แต้ม {unknown}"}]
    assert fake_line.inbox(john.line_user_id) == [
        {"type": "text", "text": "Hi John, Silver member with 80 points {unknown"}]
    assert [r["path"] for r in fake_line.requests("/v2/bot/message/*")] == [PUSH, PUSH]  # personalised


def test_members_with_the_same_rendered_message_share_a_multicast(
        people, line_brand, segment, tiers, fake_line, django_capture_on_commit_callbacks):
    silver, gold = tiers
    members = people.many(5)
    for member, tier in zip(members, [gold, gold, gold, silver, silver], strict=True):
        MemberTier.objects.create(member=member, brand=line_brand, tier=tier)
    broadcast = make_broadcast(line_brand, segment, text_th="โปรพิเศษสำหรับสมาชิก {tier}")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    calls = fake_line.requests(MULTICAST)
    assert sorted(len(c["body"]["to"]) for c in calls) == [2, 3]
    assert {c["body"]["messages"][0]["text"] for c in calls} == {"โปรพิเศษสำหรับสมาชิก โกลด์",
                                                                 "โปรพิเศษสำหรับสมาชิก ซิลเวอร์"}


def test_a_flex_card_has_the_image_title_text_and_a_portal_button(line_brand, segment):
    line_brand.liff_id = "1650000000-abcd"
    broadcast = make_broadcast(line_brand, segment, message_kind=Broadcast.MessageKind.FLEX,
                               title_th="ลดทั้งร้าน", title_en="Sale", text_th="คุณ{first_name} ลด 20%",
                               text_en="{first_name}, 20% off", image_url="https://cdn.example.com/sale.jpg",
                               button_target="liff", button_liff_path="rewards/", button_label_th="ดูของรางวัล",
                               button_label_en="See rewards")

    (card,) = line_messages(broadcast, preview_context(broadcast, "en"))

    assert card["altText"] == "Sale: Somchai, 20% off"
    bubble = card["contents"]
    assert bubble["hero"]["url"] == "https://cdn.example.com/sale.jpg"
    assert [c["text"] for c in bubble["body"]["contents"]] == ["Sale", "Somchai, 20% off"]
    assert bubble["footer"]["contents"][0]["action"] == {
        "type": "uri", "label": "See rewards", "uri": "https://liff.line.me/1650000000-abcd/rewards"}
    (thai,) = line_messages(broadcast, preview_context(broadcast, "th"))
    assert thai["altText"].startswith("ลดทั้งร้าน: คุณ") and thai["altText"].endswith(" ลด 20%")


def test_a_coupon_drop_issues_one_coupon_per_recipient_once_and_shows_its_code(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    reward = factories.RewardFactory(brand=line_brand, name="ส่วนลด 50 บาท", name_en="50 THB off", points_cost=0,
                                     redeemable=False, stock=10)
    anan, busaba = people.make("Anan"), people.make("Busaba", language="en")
    people.make("Chai", consent=False)
    broadcast = make_broadcast(line_brand, segment, coupon_reward=reward,
                               text_th="รับคูปอง {coupon_name} รหัส {coupon_code}", text_en="Your gift!")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    coupons = {c.member_id: c for c in Coupon.objects.all()}
    assert set(coupons) == {anan.pk, busaba.pk}
    assert coupons[anan.pk].issue_key == f"broadcast:{broadcast.pk}:{anan.pk}"
    assert fake_line.inbox(anan.line_user_id) == [
        {"type": "text", "text": f"รับคูปอง ส่วนลด 50 บาท รหัส {coupons[anan.pk].code}"}]
    assert fake_line.inbox(busaba.line_user_id) == [
        {"type": "text", "text": f"Your gift!\n\nYour coupon code: {coupons[busaba.pk].code}"}]
    reward.refresh_from_db()
    assert reward.stock == 8

    # Sending again (a replayed batch, a second run) issues nothing new.
    BroadcastRecipient.objects.filter(broadcast=broadcast, status="sent").update(status="pending")
    BroadcastBatch.objects.filter(broadcast=broadcast).update(status="pending")
    Broadcast.objects.filter(pk=broadcast.pk).update(status="sending")
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2
    assert Coupon.objects.count() == 2
    reward.refresh_from_db()
    assert reward.stock == 8


def test_when_coupons_run_out_the_rest_are_skipped_with_the_reason(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    reward = factories.RewardFactory(brand=line_brand, points_cost=0, redeemable=False, stock=1)
    first, second = people.make("Anan"), people.make("Busaba")
    broadcast = make_broadcast(line_brand, segment, coupon_reward=reward, text_th="คูปอง {coupon_code}")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    rows = dict(BroadcastRecipient.objects.values_list("member_id", "status"))
    assert rows == {first.pk: "sent", second.pk: "skipped_no_coupon"}
    assert fake_line.inbox(second.line_user_id) == []


def test_members_without_line_get_the_sms_or_e_mail_fallback(
        people, line_brand, segment, fake_line, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sms.outbox.clear()
    on_line = people.make("Anan")
    texter = people.make("Busaba", line=False, phone="+66811112222")
    mailer = people.make("Chai", line=False, email="chai@example.com", language="en")
    people.make("Dao", line=False)  # nothing to reach them with
    broadcast = make_broadcast(line_brand, segment, fallback_sms=True, fallback_email=True,
                               text_th="คุณ{first_name} รับแต้มสองเท่า", text_en="{first_name}: double points",
                               title_en="Songkran", button_target="url", button_url="https://shop.example.com/",
                               button_label_th="ช้อปเลย")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    assert sms.outbox == [("+66811112222", "คุณBusaba รับแต้มสองเท่า\n\nhttps://shop.example.com/")]
    (email,) = mail.outbox
    assert (email.to, email.subject, email.body) == (
        ["chai@example.com"], "Songkran", "Chai: double points\n\nhttps://shop.example.com/")
    rows = {r.member.first_name: (r.status, r.channel) for r in BroadcastRecipient.objects.select_related("member")}
    assert rows == {"Anan": ("sent", "line"), "Busaba": ("sent", "sms"), "Chai": ("sent", "email"),
                    "Dao": ("skipped_unreachable", "")}
    assert len(fake_line.inbox(on_line.line_user_id)) == 1
    assert texter.line_user_id is None and mailer.line_user_id is None


def test_a_test_send_reaches_the_staff_member_and_is_not_counted(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    reward = factories.RewardFactory(brand=line_brand, points_cost=0, redeemable=False)
    staff_member = people.make("Staff", consent=False)
    broadcast = make_broadcast(line_brand, segment, coupon_reward=reward, text_th="คุณ{first_name} รหัส {coupon_code}")

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_test_send(broadcast=broadcast, member=staff_member)
    fake_line.add_user("U" + "9" * 32)
    broadcast_test_send(broadcast=broadcast, line_user_id="U" + "9" * 32)

    assert fake_line.inbox(staff_member.line_user_id) == [{"type": "text", "text": "คุณStaff รหัส TEST0000TEST0000"}]
    (sample,) = fake_line.inbox("U" + "9" * 32)  # sample values in Thai
    assert sample["text"].startswith("คุณ") and sample["text"].endswith(" รหัส TEST0000TEST0000")
    assert BroadcastRecipient.objects.count() == 0
    assert Coupon.objects.count() == 0
    assert Broadcast.objects.get().status == "draft"
