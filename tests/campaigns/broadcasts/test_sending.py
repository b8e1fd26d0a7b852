"""Sending a broadcast: audience reasons, consent at send time, holdout, batches, crash recovery, pause/resume."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.broadcasts import services
from campaigns.broadcasts.errors import BroadcastStateInvalid
from campaigns.broadcasts.models import Broadcast, BroadcastRecipient
from campaigns.broadcasts.selectors import broadcast_audience, broadcast_progress, holdout_bucket
from campaigns.broadcasts.services import (
    broadcast_cancel,
    broadcast_pause,
    broadcast_recover,
    broadcast_resume,
    broadcast_schedule,
    broadcast_send_batch,
    broadcast_start,
    broadcast_start_due,
)
from loyalty.models import Coupon
from messaging import client
from messaging.models import MessageDelivery, OutboundMessage
from tests import factories
from tests.consent.conftest import grant

from .conftest import inbox_counts, make_broadcast

MULTICAST = "/v2/bot/message/multicast"
PUSH = "/v2/bot/message/push"


def statuses(broadcast) -> dict[str, str]:
    return {row.member.first_name: row.status
            for row in BroadcastRecipient.objects.filter(broadcast=broadcast).select_related("member")}


def start(broadcast, capture, *, batch_size=500) -> int:
    """Start without running the queued batch tasks (the tests drive the batches)."""
    with capture(execute=False):
        return broadcast_start(broadcast=broadcast, batch_size=batch_size)


def test_the_audience_screen_counts_each_exclusion_reason(people, line_brand, segment, marketing):
    people.make("Anan")
    people.make("Busaba")
    people.make("Chai", language="en")
    people.make("Dao", consent=False)  # never asked
    withdrew = people.make("Ekk")
    grant(withdrew, marketing, granted=False)
    people.make("Fah", blocked=True)  # blocked the OA, no phone or e-mail
    people.make("Gun", line=False, phone="+66811110001")  # not on LINE, has a phone: SMS
    people.make("Hom", line=False, email="hom@example.com")  # e-mail only, e-mail fallback off
    broadcast = make_broadcast(line_brand, segment, fallback_sms=True)

    audience = broadcast_audience(broadcast=broadcast)

    assert (audience.total, audience.no_consent, audience.unreachable, audience.holdout, audience.to_send) == (
        8, 2, 2, 0, 4)
    assert audience.by_channel == {"line": 3, "sms": 1, "email": 0}
    broadcast.fallback_email = True
    assert broadcast_audience(broadcast=broadcast).by_channel == {"line": 3, "sms": 1, "email": 1}


def test_a_plain_message_goes_as_one_multicast_and_everyone_receives_it_once(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    members = people.many(5)
    broadcast = make_broadcast(line_brand, segment)

    with django_capture_on_commit_callbacks(execute=True):
        assert broadcast_start(broadcast=broadcast) == 5

    (request,) = fake_line.requests(MULTICAST)
    assert sorted(request["body"]["to"]) == sorted(m.line_user_id for m in members)
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)
    assert fake_line.inbox(members[0].line_user_id) == [{"type": "text", "text": "สวัสดีค่ะ สงกรานต์นี้รับแต้มสองเท่า"}]
    broadcast.refresh_from_db()
    assert broadcast.status == "sent" and broadcast.finished_at is not None
    progress = broadcast_progress(broadcast=broadcast)
    assert (progress.sent, progress.failed, progress.pending, progress.percent) == (5, 0, 0, 100)
    message = OutboundMessage.objects.get()
    assert (message.kind, message.purpose, message.status) == ("multicast", "marketing", "sent")
    assert request["headers"]["x-line-retry-key"] == str(message.retry_key)
    assert set(MessageDelivery.objects.values_list("status", flat=True)) == {"sent"}
    assert MessageDelivery.objects.count() == 5


def test_consent_withdrawn_between_scheduling_and_sending_excludes_the_member(
        people, line_brand, segment, marketing, fake_line, django_capture_on_commit_callbacks):
    anan, busaba, chai = people.make("Anan"), people.make("Busaba"), people.make("Chai")
    broadcast = make_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks)
    assert statuses(broadcast) == {"Anan": "pending", "Busaba": "pending", "Chai": "pending"}

    grant(busaba, marketing, granted=False)  # withdrawn after the recipients were written
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 3

    assert statuses(broadcast) == {"Anan": "sent", "Busaba": "skipped_no_consent", "Chai": "sent"}
    assert inbox_counts(fake_line, [anan, busaba, chai]) == {"Anan": 1, "Busaba": 0, "Chai": 1}
    assert broadcast_progress(broadcast=broadcast).skipped["skipped_no_consent"] == 1


def test_holdout_members_receive_nothing_and_the_sample_is_the_documented_hash(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    members = people.many(20)
    broadcast = make_broadcast(line_brand, segment, holdout_percent=30)
    expected_holdout = {m.first_name for m in members if holdout_bucket(broadcast.pk, m.pk) < 30}
    assert 0 < len(expected_holdout) < 20  # the hash splits this audience

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    rows = statuses(broadcast)
    assert {name for name, status in rows.items() if status == "holdout"} == expected_holdout
    received = inbox_counts(fake_line, members)
    assert {name for name, count in received.items() if count == 0} == expected_holdout
    assert {count for name, count in received.items() if name not in expected_holdout} == {1}
    assert broadcast_audience(broadcast=broadcast).holdout == len(expected_holdout)


class WorkerKilled(BaseException):
    """A worker process dying mid-batch (not an Exception: nothing in the code may catch it)."""


def accept_then_die(monkeypatch):
    """LINE accepts the multicast, then the worker dies before it hears back."""
    real_multicast = client.send_multicast

    def send(brand, *, to, messages, retry_key):
        real_multicast(brand, to=to, messages=messages, retry_key=retry_key)
        raise WorkerKilled()

    monkeypatch.setattr(client, "send_multicast", send)


def coupon_broadcast(line_brand, segment):
    reward = factories.RewardFactory(brand=line_brand, points_cost=0, redeemable=False, stock=100)
    return make_broadcast(line_brand, segment, coupon_reward=reward, text_th="คูปอง {coupon_code}",
                          text_en="Coupon {coupon_code}")


def test_a_broadcast_that_crashes_half_way_resumes_without_duplicates(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    members = people.many(6)
    broadcast = make_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks, batch_size=2)
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2  # batch 1 goes out normally

    # Batch 2: LINE accepts the multicast, then the worker dies: its transaction never commits.
    accept_then_die(monkeypatch)
    with pytest.raises(WorkerKilled):
        broadcast_send_batch(broadcast_id=broadcast.pk)
    monkeypatch.undo()
    assert sorted(statuses(broadcast).values()) == ["pending", "pending", "pending", "pending", "sent", "sent"]

    # A new worker claims batch 2 again: same messages, same retry key, LINE answers 409; then batch 3.
    assert broadcast_recover(broadcast_id=broadcast.pk, older_than=timedelta(0)) == 0  # nothing half-done
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2
    assert broadcast_send_batch(broadcast_id=broadcast.pk) is None

    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)
    assert set(statuses(broadcast).values()) == {"sent"}
    assert [r["status"] for r in fake_line.requests(MULTICAST)] == [200, 200, 409, 200]
    retried = fake_line.requests(MULTICAST)[1:3]
    assert retried[0]["headers"]["x-line-retry-key"] == retried[1]["headers"]["x-line-retry-key"]
    # Each recipient's outbox delivery is written once, as sent.
    deliveries = MessageDelivery.objects.filter(member__in=members)
    assert sorted(deliveries.values_list("member_id", flat=True)) == sorted(m.pk for m in members)
    assert set(deliveries.values_list("status", flat=True)) == {"sent"}
    assert services.broadcast_finish_if_done(broadcast_id=broadcast.pk)


def test_a_coupon_broadcast_that_crashes_half_way_resumes_without_duplicates(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    members = people.many(4)
    broadcast = coupon_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks, batch_size=2)
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2

    # The coupons and the queued message commit before LINE is called; LINE accepts one push, then the
    # worker dies.
    real_push = client.send_push

    def accept_then_die_push(brand, *, to, messages, retry_key):
        real_push(brand, to=to, messages=messages, retry_key=retry_key)
        raise WorkerKilled()

    monkeypatch.setattr(client, "send_push", accept_then_die_push)
    with pytest.raises(WorkerKilled):
        broadcast_send_batch(broadcast_id=broadcast.pk)
    monkeypatch.undo()
    assert sorted(statuses(broadcast).values()) == ["queued", "queued", "sent", "sent"]

    # Recovery delivers the queued messages under their retry keys (409 for the one LINE had).
    assert broadcast_recover(broadcast_id=broadcast.pk, older_than=timedelta(0)) == 2
    assert broadcast_send_batch(broadcast_id=broadcast.pk) is None
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)
    assert set(statuses(broadcast).values()) == {"sent"}
    assert sorted(r["status"] for r in fake_line.requests(PUSH)) == [200, 200, 200, 200, 409]
    codes = {c.member_id: c.code for c in Coupon.objects.all()}
    assert len(codes) == 4
    for member in members:  # the code each member saw is the coupon they hold
        assert codes[member.pk] in fake_line.inbox(member.line_user_id)[0]["text"]


def test_a_worker_that_crashed_before_calling_line_leaves_nothing_half_done(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    members = people.many(3)
    broadcast = make_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks)

    def die(message_id):
        raise WorkerKilled()

    monkeypatch.setattr(services, "_deliver_message", die)
    with pytest.raises(WorkerKilled):
        broadcast_send_batch(broadcast_id=broadcast.pk)
    monkeypatch.undo()
    assert fake_line.requests(MULTICAST) == []
    assert set(statuses(broadcast).values()) == {"pending"}
    assert OutboundMessage.objects.count() == 0

    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 3
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)


def test_a_coupon_batch_whose_worker_crashed_before_calling_line_is_left_for_recovery(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    members = people.many(3)
    broadcast = coupon_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks)

    def die(message_id):
        raise WorkerKilled()

    monkeypatch.setattr(services, "_deliver_message", die)
    with pytest.raises(WorkerKilled):
        broadcast_send_batch(broadcast_id=broadcast.pk)
    monkeypatch.undo()
    assert fake_line.requests(PUSH) == []

    # Within the lease another worker leaves the batch alone; after it, each message is delivered once.
    assert broadcast_recover(broadcast_id=broadcast.pk) == 0
    assert broadcast_recover(broadcast_id=broadcast.pk, older_than=timedelta(0)) == 3
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)


def test_pause_stops_new_batches_and_resume_sends_the_rest_once(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    members = people.many(5)
    broadcast = make_broadcast(line_brand, segment)
    start(broadcast, django_capture_on_commit_callbacks, batch_size=2)
    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2

    broadcast_pause(broadcast=broadcast)
    assert broadcast_send_batch(broadcast_id=broadcast.pk) is None  # paused: nothing claimed
    assert broadcast_progress(broadcast=broadcast).as_json()["sent"] == 2
    assert broadcast.status == "paused"

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_resume(broadcast=broadcast)

    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)
    broadcast.refresh_from_db()
    assert broadcast.status == "sent"
    with pytest.raises(BroadcastStateInvalid):
        broadcast_resume(broadcast=broadcast)


def test_429_backs_off_and_the_batch_is_sent_once_with_the_same_retry_key(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "BACKOFF_SECONDS", (0.01, 0.01, 0.01))
    members = people.many(3)
    broadcast = make_broadcast(line_brand, segment)
    fake_line.add_fault(MULTICAST, status=429, times=2)

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    calls = fake_line.requests(MULTICAST)
    assert [c["status"] for c in calls] == [429, 429, 200]
    assert len({c["headers"]["x-line-retry-key"] for c in calls}) == 1
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)


def test_the_fake_servers_rate_limit_is_respected_by_backing_off(
        people, line_brand, segment, fake_line, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "BACKOFF_SECONDS", (0.2, 0.4, 0.8))
    members = people.many(6)
    broadcast = make_broadcast(line_brand, segment, text_th="สวัสดี {first_name}")  # personalised: 6 pushes
    fake_line.set_rate_limit(PUSH, per_second=5, burst=2)

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    stats = fake_line.stats()
    assert stats["requests"][f"{PUSH} 200"] == 6
    assert stats["requests"].get(f"{PUSH} 429", 0) >= 1
    assert (stats["users"], stats["deliveries"], stats["maxPerUser"]) == (6, 6, 1)
    assert inbox_counts(fake_line, members) == dict.fromkeys([m.first_name for m in members], 1)


def test_scheduled_broadcasts_start_when_due_and_only_once(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    member = people.make("Anan")
    broadcast = make_broadcast(line_brand, segment)
    send_at = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):  # the eta task runs eagerly: not due, no-op
        broadcast_schedule(broadcast=broadcast, send_at=send_at)
    assert broadcast.status == "scheduled"
    assert broadcast_start_due() == []
    assert fake_line.inbox(member.line_user_id) == []

    with django_capture_on_commit_callbacks(execute=True):
        assert broadcast_start_due(now=send_at) == [broadcast.pk]
        assert broadcast_start_due(now=send_at) == []
    assert len(fake_line.inbox(member.line_user_id)) == 1


def test_a_cancelled_broadcast_sends_nothing(people, line_brand, segment, fake_line):
    people.make("Anan")
    broadcast = make_broadcast(line_brand, segment)
    broadcast_cancel(broadcast=broadcast)
    with pytest.raises(BroadcastStateInvalid):
        broadcast_start(broadcast=broadcast)
    assert Broadcast.objects.get().status == "cancelled"
    assert BroadcastRecipient.objects.count() == 0
    assert fake_line.requests("/v2/bot/message/*") == []


def test_a_batch_costs_the_same_queries_for_3_or_30_members(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(count, name):
        from campaigns.segments.models import Segment

        group = Segment.objects.create(brand=line_brand, name=name, definition={})
        broadcast = make_broadcast(line_brand, group, name=name)
        start(broadcast, django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as captured:
            assert broadcast_send_batch(broadcast_id=broadcast.pk) == count
        return len(captured)

    people.many(3)
    three = queries_for(3, "three")
    people.many(27)
    thirty = queries_for(30, "thirty")

    assert three == thirty <= 20
