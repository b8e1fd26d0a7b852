"""Helpers for the LIFF member-portal browser tests (tests/browser/test_portal.py).

- ``phone_session``: a phone-sized, touch, mobile Chromium context on the live server, with
  the same rule as ``tests/browser_support.py``: only 127.0.0.1/localhost is reachable,
  anything else is aborted and recorded in the session's ``outside_requests``.
- ``liff_sign_in``: the LIFF login as in the LINE app: ``@line/liff-mock`` returns an ID token
  the fake LINE server signed; the page posts it to ``/liff/<brand>/session/`` and reloads.
- ``shot``: full-page screenshots named ``test-artifacts/browser/portal-<step>.png``.
- ``card_token_shown``: which signed card token the QR on the page encodes (without decoding
  the image: the server's own QR of each candidate token is compared with the page's).
- ``page_weight``: gzip sizes of the HTML, JS and CSS a page loaded.
"""

import contextlib
import gzip
import json
import re
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.core import signing
from playwright.sync_api import expect

from members import card
from tests.browser_support import ARTIFACTS, DEFAULT_TIMEOUT_MS, guard

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    # LINE's in-app browser on Android: Chrome's user agent with LINE's suffix.
    "user_agent": ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/126.0.0.0 Mobile Safari/537.36 Line/14.10.0/IAB"),
    "locale": "th-TH",
    "timezone_id": "Asia/Bangkok",
}


@contextlib.contextmanager
def phone_session(session, chromium, live_server):
    """Swap ``session.page`` (a ``BrowserSession`` from the ``browser`` fixture) for a phone page.

    The conftest's teardown still asserts ``session.outside_requests`` is empty, so the
    phone context records into the same list.
    """
    context = chromium.new_context(base_url=live_server.url, service_workers="block", **PHONE)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)

    session.page = guard(context, session, live_server.url)
    try:
        yield session
    finally:
        context.close()


def shot(page, step: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"portal-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def liff_sign_in(session, fake_line, brand, line_user_id: str, path: str = "card/") -> None:
    """Open ``/liff/<brand>/<path>`` as the LINE app would, signed in as ``line_user_id``."""
    token = fake_line.mint_id_token(line_user_id, brand.line_login_channel_id, name="LINE user")
    mock_data = json.dumps({"getIDToken": token, "isLoggedIn": True})
    session.page.context.add_init_script(f"window.__LIFF_MOCK_DATA__ = {mock_data};")
    session.page.goto(f"/liff/{brand.slug}/{path}")
    expect(session.page.locator("body")).to_have_attribute("data-authenticated", "1")


# --- the member card's QR --------------------------------------------------------------------


class SignerAt(signing.TimestampSigner):
    """Django's TimestampSigner with the clock fixed at ``at`` (Unix seconds)."""

    def __init__(self, at: int, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self) -> str:
        return signing.b62_encode(self.at)


def card_token_at(member, at: int) -> str:
    """The card token the server would have made for ``member`` at second ``at``."""
    return SignerAt(int(at), salt=card.SALT).sign(f"{member.brand_id}.{member.pk}")


def qr_path(svg: str) -> str:
    return re.search(r'<path d="([^"]+)"', svg).group(1)


def card_token_shown(member, path_d: str, seconds) -> str | None:
    """The token whose QR has the path ``path_d``, among tokens made at ``seconds``."""
    for at in seconds:
        token = card_token_at(member, at)
        if qr_path(card.qr_svg(token)) == path_d:
            return token
    return None


def api_post(base_url: str, path: str, data: dict, *, api_key: str) -> tuple[int, dict]:
    """POST JSON to the live server over HTTP (as a POS would); returns (status, JSON)."""
    request = urllib.request.Request(  # noqa: S310 - the live test server on loopback
        base_url + path, data=json.dumps(data).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 "Authorization": f"Api-Key {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- page weight -----------------------------------------------------------------------------

COUNTED = {"document": "html", "script": "js", "stylesheet": "css"}


def gzip_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def page_weight(responses) -> dict:
    """Raw and gzip sizes, per kind, of the HTML, JS and CSS among Playwright ``responses``.

    Anything else the page loaded (images, fonts, XHR) is listed under ``other`` and not counted.
    """
    files, other = [], []
    for response in responses:
        kind = COUNTED.get(response.request.resource_type)
        if kind is None:
            other.append(f"{response.request.resource_type} {response.url}")
            continue
        if 300 <= response.status < 400:
            continue  # a redirect carries no page content
        body = response.body()
        files.append({"kind": kind, "path": urlsplit(response.url).path, "status": response.status,
                      "raw": len(body), "gzip": gzip_size(body)})
    return {"files": files, "other": other, "raw_total": sum(f["raw"] for f in files),
            "gzip_total": sum(f["gzip"] for f in files)}


def page_weight_over_http(base_url: str, path: str) -> dict:
    """The same sum for a page fetched without a browser: its HTML plus its scripts and stylesheets."""

    def fetch(url: str) -> bytes:
        with urllib.request.urlopen(base_url + url, timeout=10) as response:  # noqa: S310 - loopback
            return response.read()

    html = fetch(path)
    text = html.decode()
    assets = [("js", src) for src in re.findall(r'<script[^>]+src="([^"]+)"', text)]
    assets += [("css", href) for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)]
    files = [{"kind": "html", "path": path, "status": 200, "raw": len(html), "gzip": gzip_size(html)}]
    for kind, url in assets:
        body = fetch(url)
        files.append({"kind": kind, "path": url, "status": 200, "raw": len(body), "gzip": gzip_size(body)})
    return {"files": files, "other": [], "raw_total": sum(f["raw"] for f in files),
            "gzip_total": sum(f["gzip"] for f in files)}
