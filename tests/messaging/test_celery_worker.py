"""The LINE webhook through a real Celery worker and Redis, not eager tasks.

Needs a Redis: ``TAEM_TEST_REDIS_URL`` (``make test`` exports
``TAEM_TEST_REDIS_URL=$(./scripts/ensure_redis.sh)``). When it is unset the test is
skipped if you run ``pytest`` by hand, and FAILS when the environment variable ``CI`` is
set, so CI can never lose it silently.

What it proves: the webhook answers 200 once the event is stored and its processing is
queued, with no worker running at all; a worker process (its own interpreter and
database connection, reaching the fake LINE server over HTTP) then processes the event
and replies once; a redelivery of the same event queues nothing and sends nothing.

The worker consumes the broker's default queue in the Redis database of the URL; the
queue is purged first, so do not point two concurrent test runs at the same database.
"""

import pytest

from messaging import line_events
from messaging.models import LineWebhookEvent, OutboundMessage
from tests.celery_support import PROCESSING_TIMEOUT, queued_messages, running_worker, wait_for

Status = LineWebhookEvent.Status



def _status(webhook_event_id: str) -> str | None:
    return LineWebhookEvent.objects.filter(webhook_event_id=webhook_event_id).values_list(
        "status", flat=True).first()


@pytest.mark.django_db(transaction=True)
def test_webhook_answers_first_and_a_real_worker_replies_once(webhook, line_member, fake_line,
                                                               celery_on_redis, tmp_path):
    user_id = line_member.line_user_id
    reply_token = webhook.reply_token(user_id)
    event = line_events.text_message(user_id, reply_token, "แต้ม")

    # No worker runs yet: the answer cannot depend on the processing.
    assert webhook.post([event]).status_code == 200
    assert _status(event["webhookEventId"]) == Status.RECEIVED
    assert queued_messages() == 1
    assert not fake_line.requests("/v2/bot/message/*")

    with running_worker(broker_url=celery_on_redis.conf.broker_url, line_base_url=fake_line.base_url,
                        tmp_path=tmp_path) as worker:
        wait_for(lambda: _status(event["webhookEventId"]) == Status.PROCESSED,
                  what="the worker to process the event", timeout=PROCESSING_TIMEOUT, worker=worker)
        # The reply is a second task (deliver_outbound), queued by the worker after its commit.
        wait_for(lambda: fake_line.inbox(user_id), what="the reply to reach LINE",
                  timeout=PROCESSING_TIMEOUT, worker=worker)

        redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
        assert webhook.post([redelivered]).status_code == 200
        # A later event is processed after anything the redelivery could have queued (one
        # FIFO queue, one solo worker): once it is done, the redelivery has had its chance.
        later = line_events.text_message(user_id, webhook.reply_token(user_id), "free text, no command")
        assert webhook.post([later]).status_code == 200
        wait_for(lambda: _status(later["webhookEventId"]) == Status.PROCESSED,
                  what="the worker to process the later event", timeout=PROCESSING_TIMEOUT, worker=worker)
        wait_for(lambda: queued_messages() == 0, what="an empty queue", timeout=PROCESSING_TIMEOUT,
                  worker=worker)

        assert worker.tasks_received("messaging.tasks.process_line_events") == 2  # the event, the later one
        assert worker.tasks_received("messaging.tasks.deliver_outbound") == 1

    assert len(fake_line.inbox(user_id)) == 1
    replies = fake_line.requests("/v2/bot/message/reply")
    assert [(r["status"], r["body"]["replyToken"]) for r in replies] == [(200, reply_token)]
    assert not fake_line.requests("/v2/bot/message/push")
    stored = LineWebhookEvent.objects.get(webhook_event_id=event["webhookEventId"])
    assert (stored.status, stored.attempts) == (Status.PROCESSED, 1)
    message = OutboundMessage.objects.get()
    assert (message.kind, message.status, message.dedupe_key) == (
        "reply", "sent", f"event:{event['webhookEventId']}")
