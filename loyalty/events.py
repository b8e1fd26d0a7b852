"""Domain events raised by loyalty services for other apps (campaigns, messaging).

``loyalty`` never imports its subscribers; they register with ``subscribe``. Events are
delivered after the transaction that raised them commits (``on_commit``), with ids
only, so a subscriber never sees something that was rolled back.

Two kinds of subscriber:

- ``subscribe(event)``: runs in the process that committed, right after the commit.
- ``subscribe(event, in_worker=True, when=...)``: runs in a Celery worker, for the events
  whose payload ``when`` accepts (checked in the committing process, so an event no worker
  subscriber wants sends no task). The committing process
  sends one ``events_dispatch`` task carrying the event; inside ``batched()`` (a purchase, a
  refund) every event of the block is written to the outbox (``ParkedEvents``) in the block's
  own transaction instead, and beat's relay (``resend_parked``, every second) queues the
  outbox's rows, several blocks per task. The worker calls each of the event's worker
  subscribers in turn. A
  subscriber that raises is retried alone (``events_handler_retry``), so the others are
  not run twice. The task is acknowledged late and rejected (so redelivered) when its worker
  process is lost, so a worker subscriber must be idempotent per event (each one was already
  a late-acknowledged task of its own before).
"""

import contextlib
import functools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator

from django.db import transaction

from config.request_id import NO_REQUEST, current_request_id, request_id_bound

log = logging.getLogger(__name__)

PURCHASE_RECORDED = "purchase_recorded"
PURCHASE_REFUNDED = "purchase_refunded"
POINTS_POSTED = "points_posted"
REWARD_REDEEMED = "reward_redeemed"
COUPON_USED = "coupon_used"
COUPON_ISSUED = "coupon_issued"  # coupon_id, member_id, key: a coupon given without a redemption
MEMBER_REGISTERED = "member_registered"
CHECKED_IN = "checked_in"  # member_id, award_id, day (ISO Bangkok date): a daily check-in that counted
SURVEY_COMPLETED = "survey_completed"  # member_id, survey_id, response_id
PROFILE_UPDATED = "profile_updated"

_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)
_worker_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)
_local = threading.local()


def subscribe(event: str, *, in_worker: bool = False, when: Callable[[dict], bool] | None = None) -> Callable:
    if when is not None and not in_worker:
        raise ValueError("when= filters worker subscribers only")

    def register(handler: Callable[..., None]) -> Callable[..., None]:
        if when is not None:
            handler.events_when = when
        (_worker_subscribers if in_worker else _subscribers)[event].append(handler)
        return handler

    return register


def handler_name(handler: Callable) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def worker_handler(event: str, name: str) -> Callable[..., None] | None:
    return next((h for h in _worker_subscribers[event] if handler_name(h) == name), None)


def emit(event: str, **payload) -> None:
    """Deliver ``event`` to its subscribers once the current transaction commits."""
    batch = _current_batch()
    to_worker = any(_wanted(handler, payload) for handler in _worker_subscribers[event])
    if to_worker and batch is not None and batch.outbox:
        # Written by the block, in this transaction, to the outbox: unless a savepoint around this
        # emit rolls back, which drops this marker from the transaction's on_commit list with it.
        def marker() -> None:
            pass

        transaction.on_commit(marker)
        request_id = current_request_id()  # the worker's log lines for it carry the request's id
        batch.pending.append((marker, [event, payload] if request_id == NO_REQUEST else [event, payload, request_id]))
        to_worker = False

    def deliver() -> None:
        for handler in list(_subscribers[event]):
            handler(**payload)
        if to_worker:
            if batch is not None and not batch.sent:
                batch.items.append([event, payload])
            else:
                _send([[event, payload]])

    transaction.on_commit(deliver)


def _wanted(handler: Callable, payload: dict) -> bool:
    when = getattr(handler, "events_when", None)
    return when is None or when(payload)


class _Batch:
    def __init__(self, *, outbox: bool = False) -> None:
        self.items: list = []
        self.sent = False
        self.outbox = outbox
        self.pending: list = []  # (marker, [event, payload]) for the outbox

    def write_outbox(self) -> None:
        """The worker share of the block's events, still inside its transaction, as one outbox row."""
        alive = {id(callback) for _savepoints, callback, _robust in transaction.get_connection().run_on_commit}
        items = [item for marker, item in self.pending if id(marker) in alive]
        if items:
            _outbox_insert(items)

    def send(self) -> None:
        if self.sent:
            return
        self.sent = True
        if self.items:
            _send(self.items)


def _current_batch() -> "_Batch | None":
    stack = getattr(_local, "batches", None)
    return stack[-1] if stack else None


def _send(batch: list) -> None:
    """Queue ``events_dispatch``; when the broker is down, park the batch in the database instead
    (``ParkedEvents``; ``events_resend`` queues it once the broker is back). What raised the events
    has committed already: its caller is never failed for them."""
    names = [item[0] for item in batch]
    try:
        _queue_dispatch(batch)
    except Exception as error:  # noqa: BLE001
        try:
            from .models import ParkedEvents

            ParkedEvents.objects.create(batch=batch, error=f"{type(error).__name__}: {error}"[:1000])
            log.warning("domain events %s could not be queued (%s); parked until the broker is back", names, error)
        except Exception:  # noqa: BLE001 - the database is gone too: the nightly rebuilds repair what they can
            log.exception("domain events %s could not be queued nor parked", names)


def _queue_dispatch(batch: list) -> None:
    """Queue one ``events_dispatch`` task for ``batch``. The event names stand for the arguments in
    logs and monitoring (Celery would otherwise render the whole batch for every task)."""
    from .tasks import events_dispatch

    events_dispatch.apply_async((batch,), argsrepr=repr(sorted({item[0] for item in batch})), kwargsrepr="{}")


def resend_parked(limit: int = 2000, events_per_task: int = 500) -> int:
    """Queue the outbox's batches, oldest first: the purchases' and refunds' events written in
    their transactions, and batches parked while the broker was down. Consecutive batches travel
    together as ``events_dispatch`` tasks of about ``events_per_task`` events; each task's rows
    are deleted once it is queued, in this run's transaction. Stops at the first failure (the
    broker is down: the rest waits for the next run). Concurrent runs skip each other's rows.
    Returns how many rows were queued."""
    from .models import ParkedEvents

    sent = 0
    with transaction.atomic():
        waiting = list(ParkedEvents.objects.select_for_update(skip_locked=True).order_by("pk")[:limit])
        while waiting:
            chunk, taken = [], 0
            while taken < len(waiting) and (not chunk or len(chunk) + len(waiting[taken].batch) <= events_per_task):
                chunk += waiting[taken].batch
                taken += 1
            try:
                _queue_dispatch(chunk)
            except Exception:  # noqa: BLE001
                log.warning("domain events: the broker is unreachable; %s outbox row(s) queued so far", sent)
                break
            ParkedEvents.objects.filter(pk__in=[row.pk for row in waiting[:taken]]).delete()
            sent += taken
            waiting = waiting[taken:]
    return sent


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Send the worker share of every event emitted inside the block as one task, once committed.

    Entered inside a transaction with a broker (the purchase and the refund open theirs first):
    the block's worker events are written, on leaving it without an error, as one row of the
    outbox (``ParkedEvents``) in that same transaction, so they commit or roll back with what
    raised them and no request waits on the broker; ``relay`` (beat, every second) queues them.
    Otherwise (no broker: tests and development run tasks at once) the task goes when the block's
    transactions have committed: at once when left outside any transaction, or when the outer
    transaction (a cashier's award, a purchase for a new phone number) commits, after the
    events' own callbacks; if it rolls back, nothing goes. A block that raises writes nothing
    to the outbox: open the transaction right outside the block, so what it wrote rolls back too.
    """
    stack = _local.__dict__.setdefault("batches", [])
    batch = _Batch(outbox=transaction.get_connection().in_atomic_block and _broker_configured())
    stack.append(batch)
    try:
        yield
    except BaseException:
        stack.pop()
        if not batch.outbox:
            _schedule(batch)
        raise
    stack.pop()
    if batch.outbox:
        batch.write_outbox()
    _schedule(batch)


def _schedule(batch: _Batch) -> None:
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(batch.send)
    else:
        batch.send()


def _broker_configured() -> bool:
    from config.celery import app

    return not app.conf.task_always_eager


@functools.cache
def _outbox():
    """The outbox's ``Insert``, built on first use (models are not ready when this module loads)."""
    from config import rows

    from .models import ParkedEvents

    return rows.Insert(ParkedEvents)


def _outbox_insert(items: list) -> None:
    """The outbox row, sent with the transaction's COMMIT when the batch is the outermost
    transaction's (the purchase's own: its last write), else now."""
    from config import rows

    outbox = _outbox()
    params = outbox.params(outbox.model(batch=items, error=""))
    with_commit = getattr(transaction.get_connection(), "execute_with_commit", None)
    if with_commit is not None and with_commit(outbox.statement, params):
        return
    with rows.cursor() as cursor:
        cursor.execute(outbox.statement, params)


def dispatch(batch: list) -> int:
    """Run the worker subscribers of each ``[event, payload]`` (in the worker); returns how many ran.

    An item from the outbox carries a third element, the id of the request that raised it: its
    subscribers' log lines (and any task they queue) carry that id. A subscriber that raises is
    logged and queued again on its own.
    """
    from .tasks import events_handler_retry

    ran = 0
    for item in batch:
        event, payload = item[0], item[1]
        with request_id_bound(item[2] if len(item) > 2 else None):
            for handler in list(_worker_subscribers[event]):
                if not _wanted(handler, payload):
                    continue
                try:
                    handler(**payload)
                    ran += 1
                except Exception:  # noqa: BLE001 - the others still run; this one is retried alone
                    log.exception("subscriber %s of %s failed; retrying it", handler_name(handler), event)
                    try:
                        events_handler_retry.apply_async((event, handler_name(handler), payload), countdown=5)
                    except Exception:  # noqa: BLE001
                        log.exception("subscriber %s of %s could not be queued again", handler_name(handler),
                                      event)
    return ran
