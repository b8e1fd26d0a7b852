"""``/healthz``: answers 200 when the database (and the broker, when one is configured) answer,
503 otherwise, within a few seconds whatever happens (each check has a hard timeout).

``HealthCheckMiddleware`` (first in ``MIDDLEWARE``) answers ``GET /healthz`` before the rest of
the stack: load balancers and container health checks probe it with whatever ``Host`` they use
(``127.0.0.1:8000`` inside a container), over plain HTTP, and the probes do not fill the request
log. The URL route serves the same view for completeness.
"""

from __future__ import annotations

import concurrent.futures
import functools

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

BROKER_TIMEOUT = 2.0  # seconds, for connecting and for the answer; the whole check is capped below
BROKER_DEADLINE = 3.0
PATH = "/healthz"


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


@functools.lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT,
                                retry_on_timeout=False)


def _ping_broker(url: str) -> None:
    if url.startswith(("redis://", "rediss://", "unix://")):
        _redis_client(url).ping()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=BROKER_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)


_executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="healthz")


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager"
    # A hard deadline even if a socket option is not honoured somewhere below.
    future = _executor.submit(_ping_broker, settings.CELERY_BROKER_URL)
    try:
        future.result(timeout=BROKER_DEADLINE)
    except concurrent.futures.TimeoutError as error:
        raise TimeoutError(f"broker did not answer within {BROKER_DEADLINE:.0f} s") from error
    return "ok"


def health() -> tuple[dict, bool]:
    checks, healthy = {}, True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as error:  # noqa: BLE001 - any failure makes the service unhealthy
            checks[name] = f"error: {type(error).__name__}"
            healthy = False
    return {"status": "ok" if healthy else "error", "checks": checks}, healthy


@never_cache
@require_safe
def healthz(request):
    body, healthy = health()
    return JsonResponse(body, status=200 if healthy else 503)


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
