"""Sending: retries never deliver twice, multicast batches, skips, per-recipient records, notifications."""

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from loyalty.services.redemption import reward_redeem
from members.models import Member
from messaging import flex
from messaging.models import MessageDelivery, OutboundMessage
from messaging.outbox import message_multicast, message_push
from tests import factories

PUSH = "/v2/bot/message/push"


def push_balance(member):
    template, messages = flex.help_message(member)
    return message_push(member=member, template=template, messages=messages)


def test_a_push_retried_after_a_500_is_received_once_with_the_same_retry_key(line_member, fake_line,
                                                                               django_capture_on_commit_callbacks):
    fake_line.add_fault(PUSH, status=500, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        message = push_balance(line_member)
    attempts = fake_line.requests(PUSH)
    assert [a["status"] for a in attempts] == [500, 200]
    assert attempts[0]["headers"]["x-line-retry-key"] == attempts[1]["headers"]["x-line-retry-key"] == str(
        message.retry_key)
    assert len(fake_line.inbox(line_member.line_user_id)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    assert message.deliveries.get().status == "sent"


def test_a_push_line_accepted_before_the_connection_dropped_counts_as_sent_once(line_member, fake_line,
                                                                              django_capture_on_commit_callbacks):
    fake_line.add_fault(PUSH, mode="accept_then_drop", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        message = push_balance(line_member)
    assert [a["status"] for a in fake_line.requests(PUSH)][-1] == 409
    assert len(fake_line.inbox(line_member.line_user_id)) == 1
    message.refresh_from_db()
    assert message.status == "sent"


def test_429_is_retried_and_a_permanent_400_is_recorded_per_recipient(line_member, fake_line,
                                                                       django_capture_on_commit_callbacks):
    fake_line.add_fault(PUSH, status=429, times=2)
    with django_capture_on_commit_callbacks(execute=True):
        sent = push_balance(line_member)
    sent.refresh_from_db()
    assert sent.status == "sent" and sent.attempts == 3

    stranger = factories.MemberFactory(brand=line_member.brand, line_user_id="U" + "f" * 32, line_reachable=True)
    fake_line.add_fault(PUSH, status=400, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        failed = push_balance(stranger)
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 1
    delivery = failed.deliveries.get()
    assert (delivery.member, delivery.status) == (stranger, "failed") and "400" in delivery.error


def test_multicast_to_1234_members_is_three_calls_of_at_most_500_and_skips_blocked_ones(
        line_brand, fake_line, django_capture_on_commit_callbacks):
    members = [Member(brand=line_brand, code=f"M{index:07d}", line_user_id=f"U{index:032x}", line_reachable=True)
               for index in range(1234)]
    blocked = [Member(brand=line_brand, code=f"B{index:07d}", line_user_id=f"U{index + 5000:032x}",
                      line_reachable=False) for index in range(10)]
    Member.objects.bulk_create(members + blocked)
    for member in members[:3]:
        fake_line.add_user(member.line_user_id)
    everyone = Member.objects.filter(brand=line_brand).order_by("code")
    with django_capture_on_commit_callbacks(execute=True):
        batches = message_multicast(brand=line_brand, members=everyone, template="points_news",
                                    messages=[{"type": "text", "text": "Your points statement"}],
                                    purpose="transactional")
    calls = fake_line.requests("/v2/bot/message/multicast")
    assert sorted(len(call["body"]["to"]) for call in calls) == [234, 500, 500]
    sent_to = {user for call in calls for user in call["body"]["to"]}
    assert sent_to == {member.line_user_id for member in members}
    assert len({call["headers"]["x-line-retry-key"] for call in calls}) == 3
    assert MessageDelivery.objects.filter(status="skipped_unreachable").count() == 10
    assert all(batch.status == "sent" for batch in OutboundMessage.objects.filter(pk__in=[b.pk for b in batches]))


def test_a_brand_without_a_channel_token_records_instead_of_calling_line(member, fake_line,
                                                                         django_capture_on_commit_callbacks):
    Member.objects.filter(pk=member.pk).update(line_reachable=True)
    member.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        message = push_balance(member)
    message.refresh_from_db()
    assert message.status == "skipped"
    assert fake_line.requests() == []


# --- notifications -------------------------------------------------------------------------


def test_a_purchase_notifies_the_points_earned_and_new_balance_once(line_member, fake_line,
                                                                   django_capture_on_commit_callbacks):
    def record():
        return purchase_record(brand=line_member.brand, member=line_member, channel=Channel.POS, order_id="N-1",
                               total=Decimal("500.00"), lines=[LineInput(amount=Decimal("500.00"))],
                               purchased_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        record()
    with django_capture_on_commit_callbacks(execute=True):
        record()  # a replay earns nothing and says nothing
    (notice,) = fake_line.inbox(line_member.line_user_id)
    assert "You earned 20 points. Your balance is now 20 points." in notice["altText"]


def test_campaign_prize_points_are_not_announced_twice(line_member, fake_line, django_capture_on_commit_callbacks):
    """Missions, draws and races send their own prize message; the generic 'you earned' stays quiet."""
    from loyalty.services.ledger import Kind, Source, account_get_or_create, points_post

    account = account_get_or_create(member=line_member, currency=line_member.brand.currencies.get(is_default=True))
    with django_capture_on_commit_callbacks(execute=True):
        points_post(account=account, amount=50, kind=Kind.EARN, idempotency_key="mission:1:1:1",
                    source=Source(channel=Channel.CAMPAIGN, reason="mission"))
    assert fake_line.inbox(line_member.line_user_id) == []
    assert not OutboundMessage.objects.filter(template="points_earned").exists()


def test_a_redemption_notifies_the_coupon(line_member, fake_line, django_capture_on_commit_callbacks):
    reward = factories.RewardFactory(brand=line_member.brand, name="Tote bag", points_cost=100)
    factories.give_points(line_member, 100, key="seed")
    with django_capture_on_commit_callbacks(execute=True):
        coupon = reward_redeem(brand=line_member.brand, member=line_member, reward_id=reward.pk,
                               request_id="r-1").redemption.coupon
    (notice,) = fake_line.inbox(line_member.line_user_id)
    assert "Tote bag" in notice["altText"] and coupon.display_code in notice["altText"]


@pytest.mark.parametrize("language", ["th", "en"])
def test_notifications_are_rendered_in_the_member_language(line_member, language):
    line_member.language = language
    _template, (message,) = flex.points_earned(line_member, points=5, balance_after=15)
    assert ("แต้ม" in message["altText"]) == (language == "th")


def test_expiring_points_are_reminded_once_per_expiry_day(line_member, fake_line, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from loyalty.services.expiry import expiry_reminders_create
    from messaging.reminders import expiry_reminders_send

    soon = timezone.now() + timedelta(days=3)
    factories.give_points(line_member, 70, key="soon", expires_at=soon)
    factories.give_points(line_member, 30, key="later", expires_at=timezone.now() + timedelta(days=200))
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_create() == 1
        assert expiry_reminders_send() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_create() == 0  # the job ran twice today
        assert expiry_reminders_send() == 0
    (reminder,) = fake_line.inbox(line_member.line_user_id)
    assert reminder["altText"].startswith("70 of your points expire on")


def test_marketing_goes_only_to_members_whose_marketing_consent_is_granted(line_brand, fake_line,
                                                                          django_capture_on_commit_callbacks):
    from consent.models import ConsentDocument, ConsentVersion
    from consent.services import consent_record

    document = ConsentDocument.objects.create(brand=line_brand, kind="marketing", title_th="การตลาด",
                                              is_required=False)
    now = timezone.now()
    version = ConsentVersion.objects.create(document=document, version=1, content_th="รับข่าวสาร",
                                            status="published", effective_at=now, published_at=now)
    members = [factories.MemberFactory(brand=line_brand, line_reachable=True) for _ in range(3)]
    for member in members:
        fake_line.add_user(member.line_user_id)
    consent_record(member=members[0], version=version, granted=True, channel="liff")
    consent_record(member=members[1], version=version, granted=True, channel="liff")
    consent_record(member=members[1], version=version, granted=False, channel="liff")  # withdrew
    with django_capture_on_commit_callbacks(execute=True):
        message_multicast(brand=line_brand, members=members, template="promo",
                          messages=[{"type": "text", "text": "x2 points today"}])
    (call,) = fake_line.requests("/v2/bot/message/multicast")
    assert call["body"]["to"] == [members[0].line_user_id]
    skipped = MessageDelivery.objects.filter(status="skipped_no_consent").values_list("member_id", flat=True)
    assert set(skipped) == {members[1].pk, members[2].pk}
