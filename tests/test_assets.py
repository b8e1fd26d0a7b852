"""The LIFF front-end bundles (``make assets``): built, reproducible, small, mock-free in production,
with no CDN of ours, and a session bootstrap that does what the portal pages rely on.

The bundles are built into the git-ignored ``liff_frontend/static/liff_frontend/dist/`` by
``make assets`` (``npm ci`` + ``npm run build`` in ``liff_frontend/static_src``), which ``make run``
and ``make test`` depend on. These tests need no database.

About URLs inside the SDK: ``@line/liff`` itself, bundled from npm, still carries LINE's own
runtime URLs as strings. Outside mock mode ``liff.init`` loads its client extension
(``static.line-scdn.net/liff/edge/2/*-extensions_*.js``) and, on demand, LINE's alert UI and
analytics scripts from ``static.line-scdn.net``, and calls ``api.line.me``: that is the SDK
talking to LINE, exactly as in the LINE app, and it cannot be removed. What these tests pin down is
that *we* add nothing: no ``<script src=…>`` markup, no host beyond LINE's known set, no URL at
all in ``portal.js``, and (in the browser test below) mock mode requests nothing off the page.
"""

import contextlib
import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "liff_frontend/static_src"
DIST = ROOT / "liff_frontend/static/liff_frontend/dist"
BUNDLES = ("liff.js", "liff-mock.js", "portal.js", "cashier.js")

# Hosts that @line/liff 2.x itself names (LINE's API, login, LIFF URLs, its script CDN, analytics).
LINE_SDK_HOSTS = {
    "access.line.me",
    "api.line.me",
    "line.me",
    "liff.line.me",
    "liff-subwindow.line.me",
    "miniapp.line.me",
    "static.line-scdn.net",
    "liffsdk.line-scdn.net",
    "uts-front.line-apps.com",
}
# A complete absolute URL host (``"https://access."`` + domain fragments built by concatenation
# have no dot-separated label after the prefix and are not matched).
URL_HOST = re.compile(rb"https?://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
GZIP_BUDGET = 100 * 1024  # liff.js + portal.js, what a member's phone downloads on the first visit
# html5-qrcode names its GitHub page (a constant for its own UI, unused here) and zxing's QR writer the
# SVG namespace; neither is ever fetched.
SCANNER_LIBRARY_HOSTS = {"github.com", "www.w3.org"}
CASHIER_GZIP_BUDGET = 110 * 1024  # cashier.js (html5-qrcode carries all of zxing-js): 99 KB measured


def bundle(name: str) -> bytes:
    path = DIST / name
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make assets`")
    return path.read_bytes()


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_is_built_as_a_self_contained_iife(name):
    data = bundle(name)
    assert len(data) > 1000
    assert data.lstrip().startswith((b"(()=>{", b"(function(){", b'"use strict";(()=>{'))
    assert b"import " not in data[:200] and b"require(" not in data  # nothing left to resolve


def test_sdk_bundles_expose_the_globals_the_pages_use():
    assert b"window.liff=" in bundle("liff.js")
    mock = bundle("liff-mock.js")
    assert b"window.liff=" in mock and b"window.LiffMockPlugin=" in mock


def test_production_sdk_has_no_mock_code():
    # The plugin registers itself as liff.$mock through liff.use(); "$mock" is not a literal in
    # either bundle, so look for the plugin's class name and its own error strings.
    production, mock = bundle("liff.js"), bundle("liff-mock.js")
    for marker in (b"LiffMockPlugin", b"You need to call liff.init first.", b"getActualInitOrMockedInit"):
        assert marker not in production
    assert b"LiffMockPlugin" in mock and b"You need to call liff.init first." in mock


def test_portal_bundle_is_the_bootstrap_without_the_sdk():
    portal = bundle("portal.js")
    assert b"TaemPortal" in portal and b"__LIFF_MOCK_DATA__" in portal
    assert b"LiffMockPlugin" in portal  # used from window, not bundled:
    assert b"getActualInitOrMockedInit" not in portal and b"liff-subwindow" not in portal
    assert len(portal) < 20 * 1024


@pytest.mark.parametrize("name", BUNDLES)
def test_no_cdn_of_ours_in_any_bundle(name):
    data = bundle(name)
    assert not re.search(rb"<script[^>]*\bsrc\s*=", data, re.I)
    hosts = {host.decode().lower() for host in URL_HOST.findall(data)}
    if name == "portal.js":
        assert hosts == set(), "portal code must use same-origin, relative URLs only"
        assert b'createElement("script")' not in data
    elif name == "cashier.js":
        assert hosts <= SCANNER_LIBRARY_HOSTS, f"unexpected hosts in cashier.js: {sorted(hosts - SCANNER_LIBRARY_HOSTS)}"
        assert b'createElement("script")' not in data and b"importScripts" not in data
        for cdn in (b"jsdelivr", b"unpkg", b"cdnjs", b"googleapis", b"line-scdn"):
            assert cdn not in data
    else:
        assert hosts <= LINE_SDK_HOSTS, f"unexpected hosts in {name}: {sorted(hosts - LINE_SDK_HOSTS)}"
        for cdn in (b"jsdelivr", b"unpkg", b"cdnjs", b"googleapis", b"/liff/edge/2/sdk.js"):
            assert cdn not in data


def test_first_visit_download_is_under_budget():
    total = gzip_size(bundle("liff.js")) + gzip_size(bundle("portal.js"))
    assert total < GZIP_BUDGET, f"liff.js + portal.js gzip = {total / 1024:.1f} KB"


def test_cashier_bundle_is_the_scanner_without_the_liff_sdk():
    cashier = bundle("cashier.js")
    assert b'facingMode:"environment"' in cashier and b"scanner-view" in cashier and b"device_time" in cashier
    assert b"window.liff=" not in cashier and b"LiffMockPlugin" not in cashier and b"liff-subwindow" not in cashier
    assert b"Html5QrcodeScanner" not in cashier and b"scanapp" not in cashier  # the core reader only, no stock UI
    size = gzip_size(cashier)
    assert size < CASHIER_GZIP_BUDGET, f"cashier.js gzip = {size / 1024:.1f} KB"


def test_only_the_cashier_page_loads_the_scanner_bundle():
    templates = ROOT / "liff_frontend/templates"
    loading = sorted(str(path.relative_to(templates)) for path in templates.rglob("*.html")
                     if "dist/cashier.js" in path.read_text())
    assert loading == ["cashier/home.html"]


def test_package_json_pins_exact_versions():
    package = json.loads((SRC / "package.json").read_text())
    pins = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    assert {"@line/liff", "@line/liff-mock", "esbuild"} <= set(pins)
    loose = {name: spec for name, spec in pins.items() if not re.fullmatch(r"\d+\.\d+\.\d+", spec)}
    assert loose == {}, "pin exact versions (no ^, ~, ranges or tags)"
    assert pins["@line/liff"].startswith("2.")
    assert pins["@line/liff-mock"] == "1.0.4"
    assert pins["html5-qrcode"] == "2.3.8"


def test_lockfile_matches_package_json():
    package = json.loads((SRC / "package.json").read_text())
    lock = json.loads((SRC / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 3
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    for name, version in package["devDependencies"].items():
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["version"] == version
        assert entry["integrity"].startswith("sha512-")
    # Every package is pinned by its hash; `resolved` URLs (when npm writes them) are npm's own.
    for path, entry in lock["packages"].items():
        if path:
            assert entry.get("integrity", "").startswith("sha512-"), path
            assert entry.get("resolved", "https://registry.npmjs.org/").startswith("https://registry.npmjs.org/")


def test_build_is_reproducible_and_dist_is_current(tmp_path):
    """Two fresh builds are byte-identical, and equal to what ``make assets`` left in dist/."""
    node = shutil.which("node")
    if node is None or not (SRC / "node_modules/esbuild").is_dir():
        pytest.fail("node or liff_frontend/static_src/node_modules is missing: run `make assets`")
    outputs = []
    for run in ("a", "b"):
        outdir = tmp_path / run
        command = [node, "build.mjs", "--outdir", str(outdir), "--quiet"]
        subprocess.run(command, cwd=SRC, check=True, timeout=120)  # noqa: S603 - fixed argv, no shell
        outputs.append({name: (outdir / name).read_bytes() for name in BUNDLES})
    assert outputs[0] == outputs[1]
    stale = [name for name in BUNDLES if outputs[0][name] != bundle(name)]
    assert stale == [], "dist/ is older than its sources: run `make assets`"


# --- The bootstrap in a real browser, with no server: Playwright serves the page, the bundles and
# --- the session endpoint from its request router and aborts (and records) everything else.

ORIGIN = "http://127.0.0.1:8765"
SESSION_PATH = "/liff/demo/session/"
PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body data-brand="demo" data-liff-id="1650000000-demo" data-liff-mock="{mock}"
      data-session-url="{session}" data-authenticated="{authenticated}" data-csrf="csrf-123">
<p id="liff-error" hidden>Please open this page from LINE.</p>
<form id="redeem" data-confirm="Redeem 100 points?" action="/redeem/" method="post"><button>Go</button></form>
<div id="qr" style="width:120px;height:120px"><svg></svg></div>
<script src="/static/liff_frontend/dist/{sdk}"></script>
<script src="/static/liff_frontend/dist/portal.js"></script>
</body></html>"""


CHROMIUM = "/usr/bin/chromium"  # Debian's, as in tests/browser (scripts/ensure_chromium.sh)
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def in_browser():
    """Run ``check(browser)`` in a thread of its own with its own Playwright: the sync API cannot be
    nested, and tests/browser keeps a session-wide Playwright open in the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh")
    state = {}

    def start():
        from playwright.sync_api import sync_playwright

        state["driver"] = sync_playwright().start()
        state["browser"] = state["driver"].chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

    def stop():
        state["browser"].close()
        state["driver"].stop()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="liff-assets-browser") as thread:
        thread.submit(start).result()
        try:
            yield lambda check: thread.submit(check, state["browser"]).result(timeout=60)
        finally:
            thread.submit(stop).result()


class PortalHarness:
    def __init__(self, browser, *, mock=True, session_status=200, mock_data=None):
        self.loads = 0
        self.session_calls = []
        self.outside = []
        self.posted_forms = []
        self.session_status = session_status
        self.mock = mock
        self.context = browser.new_context()
        if mock_data is not None:
            self.context.add_init_script(f"window.__LIFF_MOCK_DATA__ = {json.dumps(mock_data)};")
        self.context.route("**/*", self.handle)
        self.page = self.context.new_page()

    def handle(self, route):
        request = route.request
        url = request.url
        if not url.startswith(ORIGIN + "/"):
            self.outside.append(url)
            return route.abort()
        path = url[len(ORIGIN):].split("?")[0]
        if path == "/portal/":
            self.loads += 1
            authenticated = "1" if self.session_calls and self.session_calls[-1]["status"] == 200 else "0"
            html = PAGE.format(mock="1" if self.mock else "0", session=SESSION_PATH, authenticated=authenticated,
                               sdk="liff-mock.js" if self.mock else "liff.js")
            return route.fulfill(status=200, content_type="text/html", body=html)
        if path.startswith("/static/liff_frontend/dist/"):
            return route.fulfill(status=200, content_type="text/javascript", body=bundle(path.rsplit("/", 1)[1]))
        if path == "/redeem/":
            self.posted_forms.append(request.post_data)
            return route.fulfill(status=204)
        if path == SESSION_PATH:
            self.session_calls.append({"method": request.method, "headers": request.headers,
                                       "body": request.post_data_json, "status": self.session_status})
            body = {} if self.session_status == 200 else {
                "error": {"code": "invalid_id_token", "message": "Your LINE login has expired.", "fields": {}}}
            return route.fulfill(status=self.session_status, content_type="application/json", body=json.dumps(body))
        self.outside.append(url)
        return route.abort()

    def open(self, expected_state):
        self.page.goto(ORIGIN + "/portal/")
        self.page.wait_for_selector(f"body[data-liff-state='{expected_state}']", timeout=10_000)
        return self

    def close(self):
        self.context.close()


@contextlib.contextmanager
def portal_page(browser, **kwargs):
    harness = PortalHarness(browser, **kwargs)
    try:
        yield harness
    finally:
        harness.close()


MOCK_DATA = {"getIDToken": "header.payload.signature", "isLoggedIn": True,
             "getProfile": {"userId": "U123", "displayName": "Somchai"}}


def test_mock_mode_posts_the_id_token_then_reloads_signed_in(in_browser):
    def check(browser):
        with portal_page(browser, mock_data=MOCK_DATA) as portal:
            portal.open("authenticated")
            assert portal.loads == 2  # first visit, then location.reload() once the session is open
            [call] = portal.session_calls
            assert call["method"] == "POST"
            assert call["body"] == {"id_token": "header.payload.signature"}  # the token only, no profile
            assert call["headers"]["content-type"] == "application/json"
            assert call["headers"]["x-csrftoken"] == "csrf-123"
            assert portal.page.is_hidden("#liff-error")
            assert portal.outside == []  # mock mode reaches nothing outside the page's origin

    in_browser(check)


def test_rejected_token_shows_the_server_message(in_browser):
    def check(browser):
        with portal_page(browser, mock_data=MOCK_DATA, session_status=401) as portal:
            portal.open("rejected")
            assert portal.loads == 1
            assert portal.page.is_visible("#liff-error")
            assert portal.page.text_content("#liff-error") == "Your LINE login has expired."
            assert portal.outside == []

    in_browser(check)


def test_mock_mode_without_a_chosen_user_waits_for_one_without_calling_the_server(in_browser):
    def check(browser):
        with portal_page(browser, mock_data={**MOCK_DATA, "getIDToken": None}) as portal:
            portal.open("choose-user")
            assert portal.session_calls == []
            assert not portal.page.is_visible("#liff-error")
            assert portal.outside == []

    in_browser(check)


def test_signed_in_pages_skip_liff_and_get_the_helpers(in_browser):
    def check(browser):
        with portal_page(browser, mock_data=MOCK_DATA) as portal:
            portal.session_calls.append({"status": 200})  # the page renders data-authenticated="1"
            portal.open("authenticated")
            assert portal.session_calls == [{"status": 200}]
            page = portal.page
            assert page.evaluate("Object.keys(window.TaemPortal).sort()") == [
                "confirmForm", "post", "ready", "showError", "startQrRefresh"]
            # confirmForm: a declined confirm() stops the submit; binding twice asks once.
            page.evaluate("TaemPortal.confirmForm('#redeem'); TaemPortal.confirmForm('#redeem')")
            asked = []
            page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
            page.click("#redeem button")
            assert asked == ["Redeem 100 points?"]
            assert portal.loads == 1 and portal.posted_forms == []  # not submitted
            # post(): JSON in and out, with the CSRF header.
            result = page.evaluate(f"TaemPortal.post('{SESSION_PATH}', {{id_token: 'x'}})")
            assert result == {"status": 200, "ok": True, "data": {}}
            assert portal.session_calls[-1]["headers"]["x-csrftoken"] == "csrf-123"
            assert portal.outside == []

    in_browser(check)


def test_confirmed_form_is_submitted(in_browser):
    def check(browser):
        with portal_page(browser, mock_data=MOCK_DATA) as portal:
            portal.session_calls.append({"status": 200})
            portal.open("authenticated")
            portal.page.evaluate("TaemPortal.confirmForm('#redeem')")
            portal.page.on("dialog", lambda dialog: dialog.accept())
            with portal.page.expect_request(f"{ORIGIN}/redeem/"):
                portal.page.click("#redeem button")
            assert len(portal.posted_forms) == 1

    in_browser(check)


def test_production_bundle_offline_shows_the_error_and_only_ever_talks_to_line(in_browser):
    """The real SDK (no mock) cannot init offline: the page shows #liff-error and posts nothing.
    What it tried to reach is LINE's own runtime (its extension script and api.line.me), never a
    host of ours; mock mode (the tests above) reaches nothing at all."""

    def check(browser):
        with portal_page(browser, mock=False) as portal:
            portal.open("init-failed")
            assert portal.session_calls == []
            assert portal.page.is_visible("#liff-error")
            assert portal.page.evaluate("typeof window.LiffMockPlugin") == "undefined"
            hosts = {url.split("/")[2] for url in portal.outside}
            assert hosts and hosts <= LINE_SDK_HOSTS

    in_browser(check)


def test_qr_refresh_replaces_the_code_in_a_fixed_size_box(in_browser):
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" id="fresh"><rect/></svg>'

    def check(browser):
        with portal_page(browser, mock_data=MOCK_DATA) as portal:
            portal.session_calls.append({"status": 200})
            portal.context.route(f"{ORIGIN}/qr/", lambda route: route.fulfill(
                status=200, content_type="application/json", body=json.dumps({"svg": svg, "expires_in": 30})))
            portal.open("authenticated")
            page = portal.page
            page.evaluate("window.stopQr = TaemPortal.startQrRefresh('#qr', '/qr/', 1); null")  # a function result would be called
            page.wait_for_selector("#qr svg#fresh", state="attached", timeout=5_000)
            size = page.evaluate("[getComputedStyle(qr).width, getComputedStyle(qr).height]")
            assert size == ["120px", "120px"]
            page.evaluate("window.stopQr()")
            assert portal.outside == []

    in_browser(check)
