import json
import time
from pathlib import Path

import pytest

from members.models import Member
from messaging import line_events
from tests import factories

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "channel-access-token-for-tests"
LOGIN_CHANNEL = "1650000001"


@pytest.fixture
def line_brand(db, fake_line):
    brand = factories.brand_with_program(slug="line-brand", name="LINE Brand")
    brand.line_channel_secret = "line-channel-secret-for-tests"
    brand.line_channel_access_token = TOKEN
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    fake_line.add_channel(TOKEN, login_channel_id=LOGIN_CHANNEL)
    return brand


@pytest.fixture
def line_member(line_brand, fake_line):
    member = factories.MemberFactory(brand=line_brand, line_user_id="U" + "a" * 32, first_name="Malee",
                                     status=Member.Status.ACTIVE, line_reachable=True, language="en")
    fake_line.add_user(member.line_user_id, display_name="Malee")
    return member


class Webhook:
    """Posts signed LINE webhook bodies to the brand's endpoint with the Django test client."""

    def __init__(self, client, brand, fake, capture_on_commit):
        self.client, self.brand, self.fake, self.capture = client, brand, fake, capture_on_commit

    def post(self, events: list[dict], *, secret: str | None = None, slug: str | None = None, raw: bytes | None = None):
        body = raw if raw is not None else line_events.body(events)
        signature = line_events.signature(secret or self.brand.line_channel_secret, body)
        # Run what the view queues after commit (processing, then delivery), as a worker would.
        with self.capture(execute=True):
            return self.client.post(f"/line/webhook/{slug or self.brand.slug}/", data=body,
                                    content_type="application/json", headers={"X-Line-Signature": signature})

    def reply_token(self, user_id: str) -> str:
        self.fake.add_user(user_id)
        return self.fake.issue_reply_token(user_id)

    def fixture(self, name: str, **replace) -> bytes:
        """A documented LINE example with its user and reply token replaced by live ones."""
        payload = json.loads((FIXTURES / name).read_text())
        for event in payload["events"]:
            if "user_id" in replace:
                event["source"]["userId"] = replace["user_id"]
            if "replyToken" in event and "user_id" in replace:
                event["replyToken"] = self.reply_token(replace["user_id"])
            event["timestamp"] = replace.get("timestamp", int(time.time() * 1000))
            if "event_id" in replace:
                event["webhookEventId"] = replace["event_id"]
        return json.dumps(payload, ensure_ascii=False).encode()


@pytest.fixture
def webhook(client, line_brand, fake_line, django_capture_on_commit_callbacks):
    return Webhook(client, line_brand, fake_line, django_capture_on_commit_callbacks)
