"""Domain events raised by loyalty services for other apps (campaigns, messaging).

``loyalty`` never imports its subscribers; they register with ``subscribe``. Events are
delivered after the transaction that raised them commits (``on_commit``), with ids
only, so a subscriber never sees something that was rolled back.

Two kinds of subscriber:

- ``subscribe(event)``: runs in the process that committed, right after the commit.
- ``subscribe(event, in_worker=True, when=...)``: runs in a Celery worker, for the events
  whose payload ``when`` accepts (checked in the committing process, so an event no worker
  subscriber wants sends no task). The committing process
  sends one ``events_dispatch`` task carrying the event (or, inside ``batched()``, every
  event of the block: a purchase's ``points_posted`` and ``purchase_recorded`` travel as
  one task), and the worker calls each of the event's worker subscribers in turn. A
  subscriber that raises is retried alone (``events_handler_retry``), so the others are
  not run twice. The task is acknowledged late and rejected (so redelivered) when its worker
  process is lost, so a worker subscriber must be idempotent per event (each one was already
  a late-acknowledged task of its own before).
"""

import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator

from django.db import transaction

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

    def deliver() -> None:
        for handler in list(_subscribers[event]):
            handler(**payload)
        if any(_wanted(handler, payload) for handler in _worker_subscribers[event]):
            if batch is not None and not batch.sent:
                batch.items.append([event, payload])
            else:
                _send([[event, payload]])

    transaction.on_commit(deliver)


def _wanted(handler: Callable, payload: dict) -> bool:
    when = getattr(handler, "events_when", None)
    return when is None or when(payload)


class _Batch:
    def __init__(self) -> None:
        self.items: list = []
        self.sent = False

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
    from .tasks import events_dispatch

    names = [event for event, _payload in batch]
    try:
        # The event names stand for the arguments in logs and monitoring (Celery would otherwise
        # render the whole batch for every task).
        events_dispatch.apply_async((batch,), argsrepr=repr(names), kwargsrepr="{}")
    except Exception as error:  # noqa: BLE001
        try:
            from .models import ParkedEvents

            ParkedEvents.objects.create(batch=batch, error=f"{type(error).__name__}: {error}"[:1000])
            log.warning("domain events %s could not be queued (%s); parked until the broker is back", names, error)
        except Exception:  # noqa: BLE001 - the database is gone too: the nightly rebuilds repair what they can
            log.exception("domain events %s could not be queued nor parked", names)


def resend_parked(limit: int = 500) -> int:
    """Queue parked batches again, oldest first, deleting each once queued; stops at the first
    failure (the broker is still down). Concurrent runs skip each other's rows. Returns how many."""
    from django.db import transaction as db_transaction

    from .models import ParkedEvents
    from .tasks import events_dispatch

    sent = 0
    with db_transaction.atomic():
        for parked in ParkedEvents.objects.select_for_update(skip_locked=True).order_by("pk")[:limit]:
            try:
                events_dispatch.delay(parked.batch)
            except Exception:  # noqa: BLE001
                log.warning("parked domain events: the broker is still unreachable; %s re-queued so far", sent)
                break
            parked.delete()
            sent += 1
    return sent


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Send the worker share of every event emitted inside the block as one task, once committed.

    Left outside any transaction, the block's own transactions have committed: the task goes at
    once. Left inside an outer transaction (a cashier's award, a purchase for a new phone
    number), it goes when that transaction commits, after the events' own callbacks; if it rolls
    back, nothing goes.
    """
    stack = _local.__dict__.setdefault("batches", [])
    batch = _Batch()
    stack.append(batch)
    try:
        yield
    finally:
        stack.pop()
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(batch.send)
        else:
            batch.send()


def dispatch(batch: list) -> int:
    """Run the worker subscribers of each ``[event, payload]`` (in the worker); returns how many ran.

    A subscriber that raises is logged and queued again on its own.
    """
    from .tasks import events_handler_retry

    ran = 0
    for event, payload in batch:
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
                    log.exception("subscriber %s of %s could not be queued again", handler_name(handler), event)
    return ran
