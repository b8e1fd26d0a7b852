"""Play a LINE user against the local webhook, through the fake LINE server.

    manage.py line_simulate follow
    manage.py line_simulate text แต้ม
    manage.py line_simulate postback action=coupons
    manage.py line_simulate unfollow

It builds a complete, signed LINE event (with a reply token issued by the fake server),
posts it to /line/webhook/<brand>/ of the running site, then prints what the fake LINE
server delivered to that user.
"""

import json
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from members.demo import DEMO_MEMBERS, DEMO_SLUG
from members.models import Brand
from messaging import line_events


def _http(method: str, url: str, payload: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=payload, method=method, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URLs from settings
        return response.status, response.read()


class Command(BaseCommand):
    help = "Simulate a LINE user (follow, text, postback, unfollow) against the local webhook via the fake LINE server."

    def add_arguments(self, parser):
        parser.add_argument("event", choices=["follow", "unfollow", "text", "postback"])
        parser.add_argument("value", nargs="?", default="", help="the text, or the postback data")
        parser.add_argument("--brand", default=DEMO_SLUG)
        parser.add_argument("--user", default=DEMO_MEMBERS[0][0], help="LINE user id (U + 32 hex)")
        parser.add_argument("--site", default=settings.SITE_URL, help="where the site runs")
        parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the reply")

    def handle(self, *args, event, value, brand, user, site, wait, **options):
        fake = settings.LINE_API_BASE
        if not fake:
            raise CommandError("line_simulate needs LINE_API_BASE pointing at the fake LINE server (`make run` does).")
        brand_obj = Brand.objects.filter(slug=brand).first()
        if brand_obj is None or not brand_obj.line_channel_secret:
            raise CommandError(f"No brand {brand!r} with a LINE channel secret.")
        fake = fake.rstrip("/")
        _http("POST", f"{fake}/__fake__/users", json.dumps({"userId": user, "displayName": "Simulated"}).encode(),
              {"Content-Type": "application/json"})
        before = len(self._inbox(fake, user))
        reply_token = ""
        if event != "unfollow":
            _status, raw = _http("POST", f"{fake}/__fake__/reply_token", json.dumps({"userId": user}).encode(),
                                 {"Content-Type": "application/json"})
            reply_token = json.loads(raw)["replyToken"]
        built = {
            "follow": lambda: line_events.follow(user, reply_token),
            "unfollow": lambda: line_events.unfollow(user),
            "text": lambda: line_events.text_message(user, reply_token, value or "แต้ม"),
            "postback": lambda: line_events.postback(user, reply_token, value or "action=balance"),
        }[event]()
        body = line_events.body([built])
        url = f"{site.rstrip('/')}/line/webhook/{brand}/"
        status, _raw = _http("POST", url, body, {"Content-Type": "application/json",
                                                 "X-Line-Signature": line_events.signature(
                                                     brand_obj.line_channel_secret, body)})
        self.stdout.write(f"POST {url} → {status} ({built['type']} {built['webhookEventId']})")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            delivered = self._inbox(fake, user)[before:]
            if delivered:
                for message in delivered:
                    self.stdout.write(self.style.SUCCESS(f"LINE delivered to {user}: {message.get('type')}"
                                                         f" · {message.get('altText') or message.get('text', '')}"))
                    self.stdout.write(json.dumps(message, ensure_ascii=False, indent=1)[:3000])
                return
            time.sleep(0.2)
        self.stdout.write("No message was delivered (unfollow sends none; is a Celery worker running?).")

    @staticmethod
    def _inbox(fake: str, user: str) -> list:
        _status, raw = _http("GET", f"{fake}/__fake__/inbox/{user}")
        data = json.loads(raw)
        return data.get("messages", data) if isinstance(data, dict) else data
