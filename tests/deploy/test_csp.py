"""Content-Security-Policy (config/csp.py).

Headers: LIFF, cashier and LINE Login pages get the strict policy (own scripts and LINE's LIFF
origins only, no inline script except the templates' own by hash, no eval); the admin gets the
baseline; JSON answers get none; the embeddable card keeps the brand's ``frame-ancestors``.

In Chromium (LIFF mock, signed in as a member): the member pages, including the ones with inline
scripts (the sign-in page, the receipts page), and the cashier page load with no CSP violation,
while a script injected into the page is blocked: the policy is enforced, and is no wider than
the pages need.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from config import csp
from members.models import StaffAssignment
from tests import factories
from tests.browser.portal_helpers import liff_sign_in

BASE_DIR = Path(__file__).resolve().parents[2]
LOGIN_CHANNEL = "1650000088"
MEMBER_USER = "U" + "3" * 32
PASSWORD = "csp-pw-1234"
# Collect violations from the first moment of every page (init scripts are exempt from CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || '')));
"""


def directives(response) -> dict[str, str]:
    return csp.parse(response["Content-Security-Policy"])


def inline_script_hashes(html: str) -> list[str]:
    hashes = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        if "src=" in attrs or "application/json" in attrs or not body.strip():
            continue
        hashes.append("'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'")
    return hashes


@pytest.fixture
def liff_brand(db):
    brand = factories.brand_with_program(slug="csp", name="CSP Cafe")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.embed_origins = "https://shop.example.com"
    brand.save()
    return brand


def test_liff_pages_get_the_strict_policy(client, liff_brand, settings, fake_line):
    settings.LIFF_MOCK = True
    response = client.get(f"/liff/{liff_brand.slug}/card/")
    assert response.status_code == 200
    policy = directives(response)
    script_src = policy["script-src"].split()
    assert script_src[:2] == ["'self'", "https://static.line-scdn.net"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    # The page's own inline scripts (the mock sign-in token reader) are allowed by their hash.
    page_hashes = inline_script_hashes(response.content.decode())
    assert page_hashes and set(page_hashes) <= set(script_src)
    connect = policy["connect-src"].split()
    assert {"'self'", "https://api.line.me", "https://access.line.me", "https://liff.line.me", fake_line.base_url} <= set(connect)
    assert set(policy["img-src"].split()) == {"'self'", "data:", "blob:", "https://profile.line-scdn.net",
                                             "https://obs.line-scdn.net"}
    assert policy["form-action"].split() == ["'self'", fake_line.base_url]  # LINE Login (the fake here)
    assert (policy["object-src"], policy["frame-ancestors"], policy["default-src"]) == ("'none'", "'none'", "'self'")


def test_production_hosts_replace_the_fake_ones(client, liff_brand, settings):
    settings.LINE_API_BASE = None
    settings.LINE_LOGIN_API_BASE = "https://api.line.me"
    settings.LINE_ACCESS_BASE = "https://access.line.me"
    policy = directives(client.get(f"/liff/{liff_brand.slug}/card/"))
    assert policy["connect-src"] == ("'self' https://api.line.me https://access.line.me https://liff.line.me "
                                     "https://liffsdk.line-scdn.net")
    assert policy["form-action"] == "'self' https://access.line.me"
    assert "127.0.0.1" not in policy["connect-src"] + policy["script-src"]


def test_cashier_and_login_pages_are_strict_admin_gets_the_baseline(client, db):
    for url in ("/cashier/login/", "/accounts/login/"):
        assert "script-src" in directives(client.get(url)), url
    admin = directives(client.get("/admin/login/"))
    assert admin == {"object-src": "'none'", "base-uri": "'self'", "frame-ancestors": "'none'"}


def test_json_answers_get_no_policy(client, db):
    assert "Content-Security-Policy" not in client.get("/api/v1/purchases/")


def test_the_embeddable_card_keeps_the_brands_frame_ancestors(client, liff_brand, fake_line):
    member = factories.MemberFactory(brand=liff_brand, line_user_id=MEMBER_USER)
    token = fake_line.mint_id_token(member.line_user_id, LOGIN_CHANNEL, name="Nok")
    session = client.post(f"/liff/{liff_brand.slug}/session/", data=json.dumps({"id_token": token}),
                          content_type="application/json")
    assert session.status_code == 200, session.content
    response = client.get(f"/liff/{liff_brand.slug}/embed/card/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["frame-ancestors"] == "'self' https://shop.example.com"
    assert policy["script-src"].startswith("'self' ")
    assert "X-Frame-Options" not in response


def test_template_hashes_cover_static_inline_scripts_only():
    scripts, handlers = csp.template_hashes()
    receipts = (BASE_DIR / "loyalty/receipts/templates/receipts/receipts.html").read_text(encoding="utf-8")
    assert csp._sha256(re.search(r"<script>(.*?)</script>", receipts, re.S).group(1)) in scripts
    found_scripts, found_handlers = set(), set()
    csp.scan_template(
        '<script>var a = 1;</script><script src="/x.js"></script><script>var l = "{{ label }}";</script>'
        '<script type="application/json">{"a": 1}</script><input onclick="this.select()">'
        '<a onclick="go({{ pk }})">', found_scripts, found_handlers)
    # Only text that renders exactly as written can be hashed; data blocks and src= need none.
    assert found_scripts == {csp._sha256("var a = 1;")}
    assert found_handlers == {csp._sha256("this.select()")}


# --- in Chromium -------------------------------------------------------------------------------


@pytest.fixture
def browser_brand(transactional_db):
    brand = factories.brand_with_program(slug="cspb", name="CSP Browser Cafe")
    brand.line_login_channel_id = LOGIN_CHANNEL
    brand.save()
    factories.MemberFactory(brand=brand, line_user_id=MEMBER_USER, first_name="Nok")
    return brand


def violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_member_pages_run_under_the_policy_and_injected_scripts_are_blocked(browser, browser_brand, settings,
                                                                              fake_line):
    settings.LIFF_MOCK = True
    page = browser.page
    page.context.add_init_script(RECORD_VIOLATIONS)
    liff_sign_in(browser, fake_line, browser_brand, MEMBER_USER, path="card/")
    assert violations(page) == []
    for path in ("points/", "rewards/", "coupons/", "profile/", "receipts/"):
        page.goto(f"/liff/{browser_brand.slug}/{path}")
        expect(page.locator("body")).to_have_attribute("data-authenticated", "1")
        assert violations(page) == [], path
    # The policy is really enforced: a script added to the page does not run.
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__injected = 1'; document.body.appendChild(s); }""")
    assert page.evaluate("window.__injected === undefined")
    assert any(v.startswith("script-src") for v in violations(page))
    assert browser.outside_requests == []


def test_cashier_page_runs_under_the_policy(browser, browser_brand, client, live_server):
    from django.conf import settings

    from liff_frontend import cashier

    user = get_user_model().objects.create_user(username="csp-till", password=PASSWORD)
    StaffAssignment.objects.create(user=user, brand=browser_brand, role=StaffAssignment.Role.CASHIER)
    client.force_login(user)
    session = client.session
    session[cashier.SESSION_BRANCH] = browser_brand.branches.get(code="MAIN").pk
    session.save()
    page = browser.page
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
                               "url": live_server.url}])
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.goto("/cashier/")
    expect(page).to_have_url(re.compile(r"/cashier/$"))
    expect(page.locator("body")).to_have_attribute("data-cashier-ready", "1")  # its bundles ran
    assert violations(page) == []
