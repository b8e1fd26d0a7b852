"""Browser tests: one Debian Chromium per session, driven by Playwright's sync API.

- Chromium is Debian's (``scripts/ensure_chromium.sh``); ``playwright install`` is never
  used, since these machines reach only package registries.
- Every browser context routes every request: the live server (127.0.0.1/localhost) is
  let through, anything else is aborted and recorded in ``outside_requests``, and each
  test asserts that list is empty (the fixture checks it again at teardown).
- Screenshots go to ``test-artifacts/browser/`` (git-ignored); a failing test gets one
  automatically.
- Tests use pytest-django's ``live_server`` (session-wide, which makes their database
  transactional); it serves static files through ``StaticFilesHandler``.
"""

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM would then refuse
# to run here with SynchronousOnlyOperation. The test code stays synchronous, so allow it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# Serve on the IPv4 loopback address, the one host the browser is allowed to reach.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
DEFAULT_TIMEOUT_MS = 10_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root it installs Debian's chromium)")
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@dataclass
class BrowserSession:
    """One isolated browser context on the live server, with its request log."""

    page: object
    base_url: str
    test_name: str
    outside_requests: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)
    public_hosts: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return self.base_url + path

    def serve_as(self, host: str) -> str:
        """Answer ``http://<host>/...`` from the live server, as if it were deployed there.

        The browser then sees a public-looking origin (some front-end code behaves
        differently on localhost); the requests still never leave the machine.
        """
        self.public_hosts.add(host)
        return f"http://{host}"

    def screenshot(self, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


def guard(context, session, local_url: str):
    """Block and record every request that is not to this machine; record error responses.

    Hosts in ``session.public_hosts`` are served from the live server (a public-looking host
    that never leaves the machine). Returns a new page of ``context``.
    """

    def route(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS:
            route.continue_()
        elif parts.scheme == "http" and parts.hostname in session.public_hosts:
            local = local_url + url[len(f"http://{parts.netloc}"):]
            route.fulfill(response=route.fetch(url=local, max_redirects=0))
        else:
            session.outside_requests.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    def route_web_socket(web_socket):
        if urlsplit(web_socket.url).hostname in LOCAL_HOSTS:
            web_socket.connect_to_server()
        else:
            session.outside_requests.append(f"WS {web_socket.url}")
            web_socket.close()

    def on_response(response):
        if response.status >= 400:
            session.error_responses.append(f"{response.status} {response.url}")

    context.route("**/*", route)
    context.route_web_socket(re.compile(".*"), route_web_socket)
    page = context.new_page()
    page.on("response", on_response)
    return page


@pytest.fixture
def browser(chromium, live_server, request):
    """A fresh context and page on the live server; outside requests are blocked and recorded."""
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", timezone_id="Asia/Bangkok",
        viewport={"width": 1280, "height": 900}, service_workers="block",
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    session = BrowserSession(page=None, base_url=live_server.url, test_name=_safe_name(request.node.nodeid))

    session.page = guard(context, session, live_server.url)
    yield session

    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        with contextlib.suppress(Exception):  # a failed screenshot must not hide the test failure
            session.screenshot("failure")
    context.close()
    if report is not None and report.passed:  # failures and xfails already say what went wrong
        assert session.outside_requests == [], f"the page tried to reach outside hosts: {session.outside_requests}"
