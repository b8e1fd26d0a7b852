"""A transaction's last write sent in the same round trip as its COMMIT
(``config.postgresql``: ``execute_with_commit``), as the POS earn sends its events outbox row."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config import rows
from loyalty.models import ParkedEvents

pytestmark = pytest.mark.django_db(transaction=True)

OUTBOX = rows.Insert(ParkedEvents)
TRICKY = [["ev", {"text": "it's 10% \\ \"quoted\" ลาเต้ ; COMMIT; --", "n": 1.5, "none": None}]]


def outbox_params(batch, error=""):
    return OUTBOX.params(ParkedEvents(batch=batch, error=error))


def test_the_write_goes_with_the_commit_in_one_statement_and_stays_exact():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        ParkedEvents.objects.create(batch=[["first", {}]], error="")
        assert connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY, "x"))
        assert ParkedEvents.objects.count() == 1  # not sent yet
    last = queries.captured_queries[-1]["sql"]
    assert last.startswith('INSERT INTO "loyalty_parkedevents"') and last.endswith(";\nCOMMIT")
    assert [row.batch for row in ParkedEvents.objects.order_by("pk")] == [[["first", {}]], TRICKY]
    assert connection.with_commit == []
    with transaction.atomic():  # the connection goes on as usual
        ParkedEvents.objects.create(batch=[], error="")
    assert ParkedEvents.objects.count() == 3


def test_a_rollback_drops_the_queued_write():
    with pytest.raises(ValueError), transaction.atomic():
        ParkedEvents.objects.create(batch=[["first", {}]], error="")
        assert connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY))
        raise ValueError("the caller fails after queuing")
    assert connection.with_commit == []
    with transaction.atomic():
        ParkedEvents.objects.create(batch=[["next", {}]], error="")
    assert [row.batch for row in ParkedEvents.objects.all()] == [[["next", {}]]]  # nothing carried over


def test_a_failing_queued_write_fails_the_commit_and_rolls_back_the_whole_transaction():
    queued = False
    with pytest.raises(IntegrityError), transaction.atomic():
        ParkedEvents.objects.create(batch=[["first", {}]], error="")
        queued = connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY, error=None))  # NOT NULL
    assert queued  # the error came from the commit, not from running the write in the block
    assert not ParkedEvents.objects.exists()
    with transaction.atomic():
        ParkedEvents.objects.create(batch=[], error="")
    assert ParkedEvents.objects.count() == 1


def test_a_write_that_swallows_the_commit_fails_it_and_rolls_back():
    queued = False
    with pytest.raises(DatabaseError), transaction.atomic():
        ParkedEvents.objects.create(batch=[["first", {}]], error="")
        queued = connection.execute_with_commit("SELECT 1 -- a trailing comment", [])
    assert queued
    assert not ParkedEvents.objects.exists()
    assert connection.get_autocommit()


def test_a_value_that_cannot_be_sent_fails_the_block_that_queues_it():
    with pytest.raises(TypeError), transaction.atomic():
        ParkedEvents.objects.create(batch=[["first", {}]], error="")
        connection.execute_with_commit(OUTBOX.statement, outbox_params([["ev", {"not json": object()}]]))
    assert connection.with_commit == [] and not ParkedEvents.objects.exists()
    assert connection.get_autocommit()
def test_outside_the_outermost_block_alone_nothing_is_queued():
    assert not connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY))  # autocommit
    with transaction.atomic(), transaction.atomic():
        assert not connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY))  # nested
    transaction.set_autocommit(False)
    try:
        with transaction.atomic():  # a block inside a manual transaction does not commit it
            assert not connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY))
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert connection.with_commit == [] and not ParkedEvents.objects.exists()


def test_a_connection_closed_after_queuing_sends_nothing_later():
    with transaction.atomic():
        assert connection.execute_with_commit(OUTBOX.statement, outbox_params(TRICKY))
        connection.close()  # Django then rolls the block back (the server already has)
    assert connection.with_commit == []
    with transaction.atomic():
        ParkedEvents.objects.create(batch=[], error="")
    assert [row.batch for row in ParkedEvents.objects.all()] == [[]]
