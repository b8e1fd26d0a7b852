"""Request ids: one id per HTTP request, on the response, in every log line, and carried into the
Celery tasks the request enqueued.

- ``RequestIdMiddleware`` (first in ``MIDDLEWARE``) takes ``X-Request-ID`` from the incoming
  request when it is sane (1-64 characters of ``[A-Za-z0-9_-]``, as a proxy or load balancer
  sends), otherwise generates one; sets it on the response's ``X-Request-ID``; keeps it in a
  context variable for the request's duration; and logs one line per request on the
  ``taem.request`` logger (method, path without the query string, status, duration).
- ``RequestIdFilter`` (attached to the log handlers in ``settings.LOGGING``) puts the current id
  on every log record as ``record.request_id`` (``-`` outside a request or task).
- Celery: ``before_task_publish`` copies the current id into the task message's headers and
  ``task_prerun`` / ``task_postrun`` set and clear it around the task in the worker, so the task's
  log lines carry the id of the request that enqueued it (eager tasks simply inherit it).

Nothing here logs headers, bodies or query strings: those can carry API keys, LINE signatures,
ID tokens and channel secrets.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
import uuid
from collections.abc import Iterator

from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
TASK_HEADER = "taem_request_id"
_SANE = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_REQUEST = "-"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("taem_request_id", default=NO_REQUEST)
access_log = logging.getLogger("taem.request")


def current_request_id() -> str:
    """The id of the request (or task) being handled, ``-`` outside one."""
    return _current.get()


@contextlib.contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    """The block's log lines (and the tasks it queues) carry ``value`` when it is a sane id
    (a domain event relayed from the outbox carries the id of the request that raised it)."""
    value = sane_request_id(value)
    if value is None:
        yield
        return
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it can be trusted into logs and headers as it is, else None."""
    if value and _SANE.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _current.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.META.get(META_KEY)) or new_request_id()
        request.request_id = request_id
        token = _current.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_log.info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code, duration_ms,
                extra={"http_method": request.method, "http_path": request.path,
                       "http_status": response.status_code, "duration_ms": duration_ms},
            )
            return response
        finally:
            _current.reset(token)


# --- Celery: carry the id from the publishing request into the task --------------------------


@before_task_publish.connect(dispatch_uid="taem.request_id.publish")
def _add_request_id_header(headers=None, **_kwargs) -> None:
    request_id = _current.get()
    if headers is not None and request_id != NO_REQUEST:
        headers.setdefault(TASK_HEADER, request_id)


_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect(dispatch_uid="taem.request_id.prerun")
def _enter_task(task_id=None, task=None, **_kwargs) -> None:
    if task is None or task.request.is_eager:
        return  # an eager task runs inside the request and already has its id
    request_id = sane_request_id(getattr(task.request, TASK_HEADER, None)) or f"task-{task_id}"
    _task_tokens[task_id] = _current.set(request_id)


@task_postrun.connect(dispatch_uid="taem.request_id.postrun")
def _leave_task(task_id=None, **_kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _current.reset(token)
