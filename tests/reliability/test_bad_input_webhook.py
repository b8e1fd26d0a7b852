"""Malformed LINE webhook requests: bad or missing signatures, bodies that are not JSON or
not the shape LINE sends, and bodies over the size limit. Each is answered 400 (or 413),
never 5xx, and stores nothing: no event, no member, nothing queued.

The valid-signature cases matter too: a body signed with the channel secret but not shaped
like LINE's (a bug on LINE's side, a replayed capture edited by hand) must still be refused
cleanly rather than crash the view. (tests/messaging/test_webhook.py covers the valid paths,
a missing and a wrong base64 signature, another brand's signature and an unknown brand.)
"""

import json

import pytest
from django.test import Client

from members.models import Member
from messaging import line_events
from messaging.models import LineWebhookEvent
from tests import factories

SECRET = "reliability-channel-secret"
USER = "U" + "7" * 32


@pytest.fixture
def brand(db):
    brand = factories.brand_with_program(slug="hooked", name="Hooked")
    brand.line_channel_secret = SECRET
    brand.save()
    return brand


@pytest.fixture
def client():
    return Client(raise_request_exception=False)  # a crash must show as a 500 here, not as an exception


def post(client, brand, body: bytes, signature: str | None):
    headers = {"X-Line-Signature": signature} if signature is not None else {}
    return client.post(f"/line/webhook/{brand.slug}/", data=body, content_type="application/json", headers=headers)


def signed(body: bytes) -> str:
    return line_events.signature(SECRET, body)


def assert_refused_and_nothing_stored(response, statuses=(400,)):
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert not LineWebhookEvent.objects.exists()
    assert not Member.objects.filter(line_user_id=USER).exists()


VALID = line_events.body([line_events.follow(USER, "reply-token")])


@pytest.mark.parametrize("signature", [
    "not base64 at all %%%",
    "=" * 44,
    "A" * 10_000,
    signed(VALID)[:-4] + "AAAA",
    line_events.signature("another-secret", VALID),
    " " + signed(VALID),
], ids=["garbage", "padding-only", "huge", "one-block-changed", "other-secret", "leading-space"])
def test_a_wrong_or_garbage_signature_is_400_and_stores_nothing(client, brand, signature):
    assert_refused_and_nothing_stored(post(client, brand, VALID, signature))


def test_a_signature_of_another_body_is_400(client, brand):
    other = line_events.body([line_events.follow("U" + "8" * 32, "reply-token")])
    assert_refused_and_nothing_stored(post(client, brand, VALID, signed(other)))


def test_a_brand_without_a_channel_secret_refuses_everything(client, brand):
    brand.line_channel_secret = ""
    brand.save()
    assert_refused_and_nothing_stored(post(client, brand, VALID, signed(VALID)))


SIGNED_BUT_MALFORMED = {
    "not-json": b"this is not json",
    "not-utf8": b'{"events": ["\xff\xfe"]}',
    "json-array": b"[]",
    "json-string": b'"events"',
    "json-null": b"null",
    "events-a-string": b'{"events": "follow"}',
    "events-an-object": b'{"events": {"type": "follow"}}',
    "events-of-numbers": b'{"events": [1, 2, 3]}',
    "event-null": b'{"events": [null]}',
    "event-id-a-number": json.dumps({"events": [{**line_events.follow(USER, "t"), "webhookEventId": 12345}]}).encode(),
    "event-id-too-long": json.dumps({"events": [{**line_events.follow(USER, "t"), "webhookEventId": "X" * 500}]}).encode(),
    "timestamp-not-a-number": json.dumps({"events": [{**line_events.follow(USER, "t"), "timestamp": "yesterday"}]}).encode(),
    "timestamp-out-of-range": json.dumps({"events": [{**line_events.follow(USER, "t"), "timestamp": 10**20}]}).encode(),
    "source-a-string": json.dumps({"events": [{**line_events.follow(USER, "t"), "source": "user"}]}).encode(),
    "nul-in-text": json.dumps({"events": [line_events.text_message(USER, "t", "a\u0000b")]}).encode(),
    "lone-surrogate": b'{"events": [{"webhookEventId": "01H", "timestamp": 1, "type": "\\ud800"}]}',
    "nan": b'{"events": [{"webhookEventId": "01H", "timestamp": 1, "x": NaN}]}',
    "delivery-context-a-list": json.dumps({"events": [{**line_events.follow(USER, "t"), "deliveryContext": [True]}]}).encode(),
}


@pytest.mark.parametrize("body", SIGNED_BUT_MALFORMED.values(), ids=SIGNED_BUT_MALFORMED.keys())
def test_a_signed_body_not_shaped_like_lines_is_400_and_stores_nothing(client, brand, body):
    assert_refused_and_nothing_stored(post(client, brand, body, signed(body)))


def test_one_malformed_event_refuses_the_whole_body(client, brand):
    """LINE retries a refused delivery whole: storing half of it would split a batch."""
    good = line_events.follow(USER, "reply-token")
    body = json.dumps({"destination": "U0", "events": [good, {"webhookEventId": "X", "timestamp": "soon"}]}).encode()
    assert_refused_and_nothing_stored(post(client, brand, body, signed(body)))


def test_events_missing_or_empty_is_the_console_check_200_storing_nothing(client, brand):
    for body in (b"{}", b'{"events": []}', b'{"destination": "U0"}'):
        response = post(client, brand, body, signed(body))
        assert response.status_code == 200
    assert not LineWebhookEvent.objects.exists()


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(client, brand, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"events": [line_events.follow(USER, "t")], "padding": "x" * (70 * 1024)}).encode()
    assert_refused_and_nothing_stored(post(client, brand, body, signed(body)), statuses=(400, 413))


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_are_405(client, brand, method):
    response = getattr(client, method)(f"/line/webhook/{brand.slug}/")
    assert response.status_code == 405
    assert not LineWebhookEvent.objects.exists()
