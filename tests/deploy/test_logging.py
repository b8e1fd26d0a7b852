"""Request ids and structured logs.

- Every response carries ``X-Request-ID``: the incoming one when it is sane, a new one otherwise
  (too long, odd characters, header injection attempts).
- Log lines written while a request runs carry its id, and one JSON access line is written per
  request; the JSON lines parse and hold the documented fields.
- Secrets never reach the log output, even when code logs the request's headers carelessly or an
  exception message holds a token: the Authorization value and the X-Line-Signature are absent.
- Celery: a task published during a request carries the request's id in its message headers, and
  the worker-side signal handlers log the task's lines with it.

The handler under test uses the same formatter and filter classes as ``settings.LOGGING``.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from config import request_id
from config.celery import app
from config.logging_json import JsonFormatter, TextFormatter
from loyalty.tasks import review_tiers
from tests.celery_support import publishing_to

API_KEY = "tk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SIGNATURE = "q4bR9tWcY1xZ7vN0mL2kJ8hG6fD5sA3pO1iU+yT/rE="
careless = logging.getLogger("tests.deploy.careless")


def log_headers_view(request):
    careless.warning("incoming headers: %s", dict(request.headers))
    careless.info("auth was %s", request.META.get("HTTP_AUTHORIZATION"))
    return HttpResponse("ok")


def failing_view(request):
    raise RuntimeError(f"upstream refused Authorization: Api-Key {request.META['HTTP_AUTHORIZATION'][8:]}")


urlpatterns = [path("headers/", log_headers_view), path("boom/", failing_view)]


@pytest.fixture
def captured():
    """Root-logger output in JSON, as production writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(request_id.RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_id_is_generated_and_returned(client, db):
    first = client.get("/liff/no-such-brand/")
    second = client.get("/liff/no-such-brand/")
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize(("incoming", "kept"), [
    ("edge-7f3a_01", True),
    ("a" * 64, True),
    ("a" * 65, False),
    ("id with spaces", False),
    ("abc\r\nSet-Cookie: x=1", False),
    ("<script>", False),
    ("", False),
])
def test_an_incoming_request_id_is_kept_only_when_sane(client, db, incoming, kept):
    response = client.get("/liff/no-such-brand/", HTTP_X_REQUEST_ID=incoming)
    if kept:
        assert response["X-Request-ID"] == incoming
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.urls("tests.deploy.test_logging")
def test_log_lines_carry_the_request_id_and_one_access_line_per_request(client, db, captured):
    response = client.get("/headers/?token=should-not-be-logged", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    records = lines(captured)
    assert {record["request_id"] for record in records} == {"req-42"}
    access = [record for record in records if record["logger"] == "taem.request"]
    assert len(access) == 1
    assert access[0]["message"].startswith("GET /headers/ 200 ")
    assert (access[0]["http_method"], access[0]["http_path"], access[0]["http_status"]) == ("GET", "/headers/", 200)
    assert isinstance(access[0]["duration_ms"], float)
    assert set(access[0]) >= {"time", "level", "logger", "message", "request_id", "process"}
    assert access[0]["time"].endswith("Z") and access[0]["level"] == "INFO"
    assert "should-not-be-logged" not in captured.getvalue()  # query strings are not logged
    # Outside a request the id is "-".
    logging.getLogger("tests.deploy").warning("after the request")
    assert lines(captured)[-1]["request_id"] == "-"


@pytest.mark.urls("tests.deploy.test_logging")
def test_secrets_never_reach_the_logs(db, captured):
    client = Client(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {API_KEY}", "HTTP_X_LINE_SIGNATURE": SIGNATURE}
    assert client.get("/headers/", **headers).status_code == 200
    assert client.get("/boom/", **headers).status_code == 500
    output = captured.getvalue()
    records = lines(captured)
    error = next(record for record in records if record["logger"] == "django.request")
    assert error["level"] == "ERROR" and "RuntimeError" in error["exception"]
    assert (error["http_method"], error["http_path"]) == ("GET", "/boom/")
    assert any(record["logger"] == "tests.deploy.careless" for record in records)
    assert "[redacted]" in output
    for secret in (API_KEY, SIGNATURE, API_KEY[8:20], SIGNATURE[:12]):
        assert secret not in output


def test_text_format_has_the_request_id_and_redacts_too():
    record = logging.LogRecord("taem.test", logging.INFO, __file__, 1, "Authorization: Bearer %s", ("abc123",), None)
    record.request_id = "req-7"
    line = TextFormatter().format(record)
    assert "[req-7]" in line and "abc123" not in line and "Authorization: [redacted]" in line


def test_extras_that_look_like_credentials_are_redacted_and_objects_dropped():
    record = logging.LogRecord("taem.test", logging.INFO, __file__, 1, "sent", (), None)
    record.channel_secret = "s3cr3t-value"
    record.brand = "cafe"
    record.payload = object()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["channel_secret"] == "[redacted]" and entry["brand"] == "cafe" and "payload" not in entry


# --- Celery -------------------------------------------------------------------------------------


@pytest.fixture
def memory_broker():
    with publishing_to("memory://"):
        yield


def test_a_task_published_in_a_request_carries_its_id_into_the_worker(memory_broker, captured):
    token = request_id._current.set("req-celery-1")
    try:
        review_tiers.apply_async()
    finally:
        request_id._current.reset(token)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        message = queue.get(timeout=2)
        message.ack()
        queue.close()
    assert message.headers[request_id.TASK_HEADER] == "req-celery-1"

    # The worker builds task.request from the message headers; the signal handlers use it.
    task = review_tiers
    task_id = message.headers["id"]
    task.push_request(**message.headers, is_eager=False)
    try:
        request_id._enter_task(task_id=task_id, task=task)
        logging.getLogger("tests.deploy.task").info("inside the task")
        request_id._leave_task(task_id=task_id)
    finally:
        task.pop_request()
    logging.getLogger("tests.deploy.task").info("after the task")
    records = [record for record in lines(captured) if record["logger"] == "tests.deploy.task"]
    assert [record["request_id"] for record in records] == ["req-celery-1", "-"]


def test_a_task_published_outside_a_request_gets_its_own_id(memory_broker, captured):
    task = review_tiers
    task.push_request(id="abc", is_eager=False)
    try:
        request_id._enter_task(task_id="abc", task=task)
        logging.getLogger("tests.deploy.task").info("scheduled run")
        request_id._leave_task(task_id="abc")
    finally:
        task.pop_request()
    assert lines(captured)[-1]["request_id"] == "task-abc"
