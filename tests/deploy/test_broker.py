"""The Redis transport (config.broker): one Redis client per channel, and tasks still reach the queue."""

from config.broker import Transport
from config.celery import app
from loyalty.tasks import events_dispatch
from tests.celery_support import queued_messages


def test_publishing_reuses_one_redis_client_and_queues_every_task(celery_on_redis):
    with app.connection_for_write() as broker:
        assert isinstance(broker.transport, Transport)
        channel = broker.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        explicit = object()
        with channel.conn_or_acquire(explicit) as given:
            assert given is explicit  # a pipeline passed in is used as it is
    for _ in range(3):
        events_dispatch.apply_async(([],), argsrepr="[]", kwargsrepr="{}")
    assert queued_messages() == 3
