"""The Celery application. Tasks run eagerly when no broker is configured."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("taem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_django_keeps_them(sender=None, **_kwargs) -> None:
    """At a worker task's start and end, what Django does at a request's: close the connection only
    when it is broken or older than ``CONN_MAX_AGE`` (``CELERY_DB_REUSE_MAX`` stops Celery's own
    close after every task). Never for an eager task: it runs inside its caller's transaction."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
