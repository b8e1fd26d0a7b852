"""The LINE webhook: signatures, exactly-once processing, and the chat commands."""

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from loyalty.services.redemption import reward_redeem
from members.models import Member
from messaging import line_events
from messaging.models import LineWebhookEvent, OutboundMessage
from tests import factories

NEW_USER = "U3d3edab4f36c6292e6d8a8131f141b8b"


def flex_text(message: dict) -> str:
    """Every text in a delivered message, to assert on what the member saw."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text" and "text" in node:
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    return " | ".join(found + [message.get("altText", "")])


# --- signature -------------------------------------------------------------------------------


def test_signed_documented_follow_is_stored_and_answered(webhook, fake_line):
    response = webhook.post([], raw=webhook.fixture("follow.json", user_id=NEW_USER))
    assert response.status_code == 200
    event = LineWebhookEvent.objects.get()
    assert (event.event_type, event.status, event.line_user_id) == ("follow", "processed", NEW_USER)
    member = Member.objects.get(line_user_id=NEW_USER)
    assert member.status == Member.Status.PENDING and member.line_reachable
    inbox = fake_line.inbox(NEW_USER)
    assert len(inbox) == 1 and "สมัครสมาชิก" in flex_text(inbox[0])  # a new follower is greeted in Thai
    assert [r["path"] for r in fake_line.requests()] .count("/v2/bot/message/reply") == 1


@pytest.mark.parametrize("signature", ["", "bm90LXRoZS1yaWdodC1zaWduYXR1cmU="])
def test_missing_or_wrong_signature_is_400_and_stores_nothing(client, line_brand, signature, caplog):
    body = line_events.body([line_events.follow(NEW_USER, "token")])
    response = client.post(f"/line/webhook/{line_brand.slug}/", data=body, content_type="application/json",
                           headers={"X-Line-Signature": signature} if signature else {})
    assert response.status_code == 400
    assert not LineWebhookEvent.objects.exists() and not Member.objects.filter(line_user_id=NEW_USER).exists()
    assert any("line webhook" in record.message for record in caplog.records)
    assert line_brand.line_channel_secret not in caplog.text


def test_body_signed_for_another_brand_is_refused(webhook, other_brand):
    other_brand.line_channel_secret = "the-other-brands-secret"
    other_brand.save()
    body = line_events.body([line_events.follow(NEW_USER, webhook.reply_token(NEW_USER))])
    response = webhook.post([], raw=body, secret="the-other-brands-secret")  # posted to line_brand's URL
    assert response.status_code == 400
    assert not LineWebhookEvent.objects.exists()


def test_unknown_brand_is_404(webhook):
    assert webhook.post([], slug="no-such-brand").status_code == 404


def test_console_verification_with_no_events_gets_200(webhook):
    response = webhook.post([], raw=(webhook.fixture("verify.json")))
    assert response.status_code == 200
    assert not LineWebhookEvent.objects.exists()


# --- exactly once ----------------------------------------------------------------------------


def test_redelivered_event_is_processed_once(webhook, line_member, fake_line):
    event = line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id), "แต้ม")
    assert webhook.post([event]).status_code == 200
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert webhook.post([redelivered]).status_code == 200
    assert LineWebhookEvent.objects.count() == 1
    assert OutboundMessage.objects.count() == 1
    assert len(fake_line.inbox(line_member.line_user_id)) == 1


def test_a_batch_from_two_users_answers_each(webhook, line_member, fake_line):
    other = "U" + "b" * 32
    events = [
        line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id), "points"),
        line_events.follow(other, webhook.reply_token(other)),
    ]
    assert webhook.post(events).status_code == 200
    assert LineWebhookEvent.objects.filter(status="processed").count() == 2
    assert len(fake_line.inbox(line_member.line_user_id)) == 1
    assert len(fake_line.inbox(other)) == 1


def test_an_old_redelivered_event_is_answered_by_push_not_by_its_dead_reply_token(webhook, line_member, fake_line):
    two_minutes_ago = int((time.time() - 120) * 1000)
    event = line_events.text_message(line_member.line_user_id, "expired-token", "แต้ม",
                                     redelivery=True, timestamp_ms=two_minutes_ago)
    assert webhook.post([event]).status_code == 200
    pushes = fake_line.requests("/v2/bot/message/push")
    assert len(pushes) == 1 and pushes[0]["headers"].get("x-line-retry-key")
    assert not fake_line.requests("/v2/bot/message/reply")
    assert len(fake_line.inbox(line_member.line_user_id)) == 1


def test_a_refused_reply_token_falls_back_to_a_push(webhook, line_member, fake_line):
    event = line_events.text_message(line_member.line_user_id, "a-token-line-never-issued", "แต้ม")
    assert webhook.post([event]).status_code == 200
    assert [r["status"] for r in fake_line.requests("/v2/bot/message/reply")] == [400]
    assert [r["status"] for r in fake_line.requests("/v2/bot/message/push")] == [200]
    message = OutboundMessage.objects.get()
    assert (message.kind, message.status) == ("push", "sent")


def test_unknown_event_type_is_stored_but_ignored(webhook, line_member):
    event = {**line_events.unfollow(line_member.line_user_id), "type": "somethingNew"}
    assert webhook.post([event]).status_code == 200
    assert LineWebhookEvent.objects.get().status == "ignored"


# --- follow / unfollow -----------------------------------------------------------------------


def test_unfollow_marks_the_member_unreachable_and_pushes_stop_until_they_follow_again(
        webhook, line_member, fake_line, django_capture_on_commit_callbacks):
    assert webhook.post([], raw=webhook.fixture("unfollow.json", user_id=line_member.line_user_id)).status_code == 200
    line_member.refresh_from_db()
    assert not line_member.line_reachable and line_member.line_unfollowed_at
    factories.give_points(line_member, 10, key="while-blocked")
    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(brand=line_member.brand, member=line_member, channel=Channel.POS, order_id="B-1",
                        total=Decimal("100"), lines=[LineInput(amount=Decimal("100"))], purchased_at=timezone.now())
    assert not fake_line.requests("/v2/bot/message/push")
    assert OutboundMessage.objects.get(template="points_earned").deliveries.get().status == "skipped_unreachable"

    follow = line_events.follow(line_member.line_user_id, webhook.reply_token(line_member.line_user_id),
                                unblocked=True)
    assert webhook.post([follow]).status_code == 200
    line_member.refresh_from_db()
    assert line_member.line_reachable
    assert "Register" not in flex_text(fake_line.inbox(line_member.line_user_id)[-1])  # a registered member


# --- chat commands ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["แต้ม", "คะแนน", "points", " Points ", "เช็คแต้ม"])
def test_balance_commands_in_thai_and_english_reply_with_the_balance(webhook, line_member, fake_line, text):
    factories.give_points(line_member, 1234, key="seed")
    event = line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id), text)
    webhook.post([event])
    (reply,) = fake_line.inbox(line_member.line_user_id)
    assert reply["type"] == "flex"
    assert "1,234" in flex_text(reply)


def test_documented_text_example_with_a_thai_member_replies_in_thai(webhook, line_member, fake_line):
    Member.objects.filter(pk=line_member.pk).update(language="th")
    factories.give_points(line_member, 50, key="seed")
    webhook.post([], raw=webhook.fixture("message_text.json", user_id=line_member.line_user_id))
    (reply,) = fake_line.inbox(line_member.line_user_id)
    assert "แต้ม" in flex_text(reply) and "50" in flex_text(reply)


def test_coupon_command_lists_active_coupons(webhook, line_member, fake_line):
    reward = factories.RewardFactory(brand=line_member.brand, name="Free latte", points_cost=10)
    factories.give_points(line_member, 10, key="seed")
    coupon = reward_redeem(brand=line_member.brand, member=line_member, reward_id=reward.pk,
                           request_id="r1").redemption.coupon
    before = len(fake_line.inbox(line_member.line_user_id))  # the redemption notification
    webhook.post([], raw=webhook.fixture("postback.json", user_id=line_member.line_user_id))
    reply = fake_line.inbox(line_member.line_user_id)[before]
    assert reply["contents"]["type"] == "carousel"
    assert coupon.display_code in flex_text(reply) and "Free latte" in flex_text(reply)


@pytest.mark.parametrize(("text", "expected"), [("บัตรสมาชิก", "Member code"), ("help", "How can we help?"),
                                                ("card", "Member code")])
def test_card_and_help_commands(webhook, line_member, fake_line, text, expected):
    event = line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id), text)
    webhook.post([event])
    (reply,) = fake_line.inbox(line_member.line_user_id)
    assert expected in flex_text(reply)


def test_free_text_is_left_for_staff(webhook, line_member, fake_line):
    event = line_events.text_message(line_member.line_user_id, webhook.reply_token(line_member.line_user_id),
                                     "Is the Siam branch open on Sunday?")
    webhook.post([event])
    assert LineWebhookEvent.objects.get().status == "processed"
    assert fake_line.inbox(line_member.line_user_id) == []


def test_events_whose_task_was_lost_are_swept_up_once(webhook, line_member, fake_line, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    """The broker was down when the webhook committed: LINE still got its 200, the event waits as
    received, and the sweeper (beat, every minute) processes it once it is old enough."""
    from datetime import timedelta

    from messaging import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.process_line_events, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook.post([line_events.text_message(
            line_member.line_user_id, webhook.reply_token(line_member.line_user_id), "แต้ม")])
    assert response.status_code == 200
    event = LineWebhookEvent.objects.get()
    assert event.status == LineWebhookEvent.Status.RECEIVED
    monkeypatch.undo()

    assert tasks.sweep_line_events() == 0  # younger than a minute: its own task may still come
    LineWebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):  # the reply is sent after processing commits
        assert tasks.sweep_line_events() == 1
    event.refresh_from_db()
    assert event.status == LineWebhookEvent.Status.PROCESSED
    assert len(fake_line.inbox(line_member.line_user_id)) == 1
    assert tasks.sweep_line_events() == 0  # processed once
