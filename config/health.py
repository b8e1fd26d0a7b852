"""``/healthz``: answers 200 when the database (and the broker, when one is configured) answer."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager"
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks, healthy = {}, True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as error:  # noqa: BLE001 - any failure makes the service unhealthy
            checks[name] = f"error: {type(error).__name__}"
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
