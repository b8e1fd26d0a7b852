"""Domain events: a purchase's worker subscribers travel as one Celery task.

The purchase request writes its ``points_posted`` and ``purchase_recorded`` to the outbox
(``ParkedEvents``) in its own transaction; the relay (``events_resend``, beat every second)
queues ``loyalty.tasks.events_dispatch`` with the outbox's rows, several purchases per task; a
real worker (Redis, its own process and database connection) then upgrades the tier, counts
the race, refreshes the member's statistics and sends the LINE notices. A subscriber that
raises is retried alone; postings no worker subscriber wants queue nothing.
"""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.leaderboards.models import Race, Standing
from campaigns.leaderboards.services import race_activate
from campaigns.segments.models import MemberStats
from config.celery import app
from loyalty import events
from loyalty.events import dispatch
from loyalty.models import LedgerEntry, MemberTier, ParkedEvents, Purchase, Tier, TierChange, TierProgram
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel, Source, account_get_or_create, points_post
from loyalty.tasks import events_resend
from tests import factories
from tests.celery_support import publishing_to, queued_messages, running_worker, wait_for

TOKEN = "events-channel-token"
TIMEOUT = 30.0


@pytest.fixture
def shop(fake_line):
    brand = factories.brand_with_program()
    brand.line_channel_access_token = TOKEN
    brand.save()
    fake_line.add_channel(TOKEN)
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1, threshold=Decimal("0"))
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                               threshold=Decimal("10000"))
    member = factories.MemberFactory(brand=brand, line_user_id="U" + "e" * 32, line_reachable=True, language="en")
    fake_line.add_user(member.line_user_id)
    return brand, member, gold


def _buy(member, order_id: str, total: str):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))],
                           purchased_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_purchase_writes_its_events_to_the_outbox_and_a_real_worker_runs_every_subscriber(
        shop, fake_line, celery_on_redis, tmp_path):
    brand, member, gold = shop
    now = timezone.now()
    race = Race.objects.create(brand=brand, metric=Race.Metric.SPEND, period=Race.Period.CUSTOM,
                               starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1), top_n=3,
                               name="แข่งยอดซื้อ", name_en="Top spender")
    race_activate(race_id=race.pk, now=now - timedelta(hours=1))

    result = _buy(member, "EV-1", "12000.00")
    assert result.created and result.earned[0].points > 0
    # Nothing ran in the request but the earn, and nothing was published: the events wait in the outbox.
    assert queued_messages() == 0
    outbox = ParkedEvents.objects.get()
    assert [item[0] for item in outbox.batch] == ["points_posted", "purchase_recorded"]
    assert outbox.error == ""
    assert not TierChange.objects.filter(member=member).exists()
    assert not Standing.objects.filter(race=race).exists()
    assert not fake_line.inbox(member.line_user_id)

    # A posting no worker subscriber wants (a staff adjustment) writes and queues nothing.
    account = account_get_or_create(member=member, currency=brand.currencies.get(is_default=True))
    points_post(account=account, amount=5, kind=LedgerEntry.Kind.ADJUST, idempotency_key="ev-adjust",
                source=Source(channel=Channel.STAFF, reason="goodwill"))
    assert queued_messages() == 0 and ParkedEvents.objects.count() == 1

    assert events_resend() == 1  # the relay: one task for the row, which goes
    assert queued_messages() == 1 and not ParkedEvents.objects.exists()

    with running_worker(broker_url=celery_on_redis.conf.broker_url, line_base_url=fake_line.base_url,
                        tmp_path=tmp_path) as worker:
        wait_for(lambda: TierChange.objects.filter(member=member, kind="upgrade").exists(),
                  what="the upgrade", timeout=TIMEOUT, worker=worker)
        # The earned-points notice and the upgrade message, each pushed once.
        wait_for(lambda: len(fake_line.inbox(member.line_user_id)) >= 2, what="two LINE messages",
                  timeout=TIMEOUT, worker=worker)
        wait_for(lambda: queued_messages() == 0, what="an empty queue", timeout=TIMEOUT, worker=worker)
        assert worker.tasks_received("loyalty.tasks.events_dispatch") == 1
        assert worker.tasks_received("loyalty.tasks.events_handler_retry") == 0
        assert "retrying it" not in worker.log()

    assert MemberTier.objects.get(member=member).tier == gold
    assert Standing.objects.get(race=race, member=member).value == Decimal("12000.00")
    stats = MemberStats.objects.get(member=member)
    assert (stats.purchase_count, stats.total_spend) == (1, Decimal("12000.00"))
    assert len(fake_line.inbox(member.line_user_id)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_subscriber_is_retried_alone_and_the_others_run_once(shop, monkeypatch, caplog):
    _brand, member, gold = shop
    calls = {"flaky": 0, "steady": 0}

    def flaky(*, purchase_id, **_payload):
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("database hiccup")

    def steady(*, purchase_id, **_payload):
        calls["steady"] += 1

    subscribers = [*events._worker_subscribers[events.PURCHASE_RECORDED], flaky, steady]
    monkeypatch.setitem(events._worker_subscribers, events.PURCHASE_RECORDED, subscribers)

    with caplog.at_level(logging.ERROR, logger="loyalty.events"):
        _buy(member, "EV-2", "12000.00")  # eager Celery here: the retry runs at once

    assert calls == {"flaky": 2, "steady": 1}
    assert any("flaky" in record.getMessage() and "retrying" in record.getMessage() for record in caplog.records)
    # The real subscribers before it ran once, and the purchase stands.
    assert MemberTier.objects.get(member=member).tier == gold
    assert TierChange.objects.filter(member=member).count() == 1


def test_a_when_filter_belongs_to_worker_subscribers_only():
    with pytest.raises(ValueError, match="worker"):
        events.subscribe(events.POINTS_POSTED, when=lambda payload: True)


@pytest.mark.django_db(transaction=True)
def test_a_purchase_of_its_own_sends_its_outbox_row_with_its_commit(shop, celery_on_redis):
    _brand, member, _gold = shop
    _buy(member, "EV-0", "100.00")  # the earn configuration is read and kept by the first
    with CaptureQueriesContext(connection) as queries:
        _buy(member, "EV-1", "300.00")
    outbox = [query["sql"] for query in queries.captured_queries if "loyalty_parkedevents" in query["sql"]]
    assert len(outbox) == 1 and outbox[0].endswith(";\nCOMMIT"), outbox  # one round trip, the last
    assert queries.captured_queries[-1]["sql"] == outbox[0]
    assert [item[0] for item in ParkedEvents.objects.order_by("pk").last().batch] == [
        "points_posted", "purchase_recorded"]


@pytest.mark.django_db(transaction=True)
def test_a_purchase_inside_a_callers_transaction_commits_or_rolls_back_its_events_with_it(shop, celery_on_redis):
    _brand, member, _gold = shop
    with transaction.atomic():  # as the cashier's award and a purchase for a new phone number
        _buy(member, "EV-3", "300.00")
    assert ParkedEvents.objects.count() == 1  # points_posted and purchase_recorded together

    with pytest.raises(RuntimeError), transaction.atomic():
        _buy(member, "EV-4", "300.00")
        raise RuntimeError("the caller fails after the purchase")
    assert ParkedEvents.objects.count() == 1  # rolled back with the purchase: nothing more
    assert not Purchase.objects.filter(order_id="EV-4").exists()
    assert events_resend() == 1 and queued_messages() == 1


@pytest.mark.django_db(transaction=True)
def test_the_relay_queues_many_purchases_as_one_task_oldest_first(shop, celery_on_redis):
    _brand, member, _gold = shop
    bought = [_buy(member, f"EV-R{number}", "100.00").purchase.pk for number in range(5)]
    assert ParkedEvents.objects.count() == 5 and queued_messages() == 0
    assert events_resend() == 5
    assert queued_messages() == 1
    with app.connection_for_write() as broker:
        message = broker.SimpleQueue(app.conf.task_default_queue).get(timeout=5)
        batch = message.decode()[0][0]
        message.ack()
    recorded = [item[1]["purchase_id"] for item in batch if item[0] == "purchase_recorded"]
    assert recorded == bought
    assert len(batch) == 10


@pytest.mark.django_db(transaction=True)
def test_events_of_a_savepoint_that_rolls_back_inside_a_batch_are_not_written(celery_on_redis, monkeypatch):
    monkeypatch.setitem(events._worker_subscribers, "test_event", [lambda **_payload: None])
    with transaction.atomic(), events.batched():
        events.emit("test_event", number=1)
        with pytest.raises(RuntimeError), transaction.atomic():
            events.emit("test_event", number=2)
            raise RuntimeError("the savepoint rolls back")
        events.emit("test_event", number=3)
    assert ParkedEvents.objects.get().batch == [["test_event", {"number": 1}], ["test_event", {"number": 3}]]


@pytest.mark.django_db(transaction=True)
def test_events_of_a_purchase_made_while_the_broker_is_down_wait_and_are_queued_once_it_is_back(shop, redis_url):
    _brand, member, _gold = shop
    with publishing_to("redis://127.0.0.1:1/0"):  # nothing listens there: connection refused
        result = _buy(member, "EV-5", "12000.00")
        # Another earn than a purchase's publishes after its commit: refused, so parked with the error.
        account = account_get_or_create(member=member, currency=member.brand.currencies.get(is_default=True))
        points_post(account=account, amount=5, kind=LedgerEntry.Kind.EARN, idempotency_key="ev-claim",
                    source=Source(channel=Channel.STAFF, reason="claim"))
    assert result.created and result.earned[0].points > 0  # the till got its answer
    parked, refused = ParkedEvents.objects.order_by("pk")
    assert [item[0] for item in parked.batch] == ["points_posted", "purchase_recorded"]
    assert parked.error == ""  # the purchase never asked the broker
    assert [item[0] for item in refused.batch] == ["points_posted"]
    assert "OperationalError" in refused.error
    assert not TierChange.objects.filter(member=member).exists()  # nothing ran yet

    with publishing_to("redis://127.0.0.1:1/0"):
        assert events_resend() == 0  # still down: kept
    assert ParkedEvents.objects.count() == 2

    with publishing_to(redis_url):
        app.control.purge()
        assert events_resend() == 2
        assert queued_messages() == 1  # both rows in one task
    assert not ParkedEvents.objects.exists()

    dispatch(parked.batch)  # what the worker does with it: every subscriber runs
    assert TierChange.objects.filter(member=member, kind="upgrade").count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_subscriber_that_keeps_failing_is_retried_once_not_in_a_loop(shop, monkeypatch):
    _brand, member, _gold = shop
    calls = []

    def broken(*, purchase_id, **_payload):
        calls.append(purchase_id)
        raise RuntimeError("always")

    subscribers = [*events._worker_subscribers[events.PURCHASE_RECORDED], broken]
    monkeypatch.setitem(events._worker_subscribers, events.PURCHASE_RECORDED, subscribers)
    result = _buy(member, "EV-6", "100.00")
    assert result.created
    assert len(calls) == 2  # at dispatch, then one eager retry (Celery does not loop eager retries)


@pytest.mark.django_db(transaction=True)
def test_a_relayed_event_runs_under_the_id_of_the_request_that_raised_it(celery_on_redis, monkeypatch):
    from config.request_id import current_request_id, request_id_bound

    seen = []
    monkeypatch.setitem(events._worker_subscribers, "test_event", [lambda **_payload: seen.append(current_request_id())])
    with request_id_bound("till-request-7"), transaction.atomic(), events.batched():
        events.emit("test_event", number=1)
    with transaction.atomic(), events.batched():
        events.emit("test_event", number=2)  # outside any request
    batch = [item for row in ParkedEvents.objects.order_by("pk") for item in row.batch]
    assert batch == [["test_event", {"number": 1}, "till-request-7"], ["test_event", {"number": 2}]]
    dispatch(batch)  # what the worker does with the relayed task
    assert seen == ["till-request-7", "-"]
