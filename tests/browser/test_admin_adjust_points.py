"""In a real browser: staff adjust a member's points in the admin; the API docs load offline."""

import re

from playwright.sync_api import expect

from loyalty.models import LedgerEntry, PointAccount
from loyalty.services.ledger import account_get_or_create
from loyalty.services.verification import ledger_mismatches
from tests import factories

PASSWORD = "pw-for-tests"  # tests.factories.staff_user


def admin_login(browser, username: str) -> None:
    page = browser.page
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


def test_staff_adjusts_points_and_sees_the_new_balance_and_errors(browser, brand, member):
    staff = factories.staff_user(brands=[brand], username="till-manager")
    factories.give_points(member, 100, key="opening")
    account = account_get_or_create(member=member, currency=brand.currencies.get(is_default=True))
    page = browser.page

    admin_login(browser, staff.username)
    page.goto("/admin/loyalty/pointaccount/")
    page.fill("#searchbar", member.code)
    page.press("#searchbar", "Enter")
    page.locator("#result_list").get_by_role("link", name=re.compile(re.escape(member.code))).click()
    expect(page).to_have_url(re.compile(rf"/admin/loyalty/pointaccount/{account.pk}/change/"))
    expect(page.locator(".field-balance .readonly")).to_have_text("100")

    page.get_by_role("link", name="Adjust points").click()
    expect(page).to_have_url(re.compile(rf"/admin/loyalty/pointaccount/{account.pk}/adjust/"))
    expect(page.locator("#content")).to_contain_text("Current balance: 100 points.")
    page.fill("#id_amount", "120")
    page.fill("#id_reason", "Goodwill: order delivered two hours late")
    browser.screenshot("adjust-form")
    page.click("input[type=submit][value='Record adjustment']")

    expect(page).to_have_url(re.compile(rf"/admin/loyalty/pointaccount/{account.pk}/change/"))
    expect(page.locator(".messagelist .success")).to_have_text("Adjusted +120 points; balance is now 220.")
    expect(page.locator(".field-balance .readonly")).to_have_text("220")
    browser.screenshot("adjusted")

    # An empty reason: the browser itself refuses to send the form (the field is required).
    page.get_by_role("link", name="Adjust points").click()
    page.fill("#id_amount", "10")
    page.fill("#id_reason", "")
    page.click("input[type=submit][value='Record adjustment']")
    reason = page.locator("#id_reason")
    assert reason.evaluate("element => element.validity.valueMissing") is True
    assert reason.evaluate("element => element.validationMessage")
    expect(page).to_have_url(re.compile(r"/adjust/$"))

    # A blank-looking reason passes the browser's check; the server answers with the error.
    page.fill("#id_reason", "   ")
    page.click("input[type=submit][value='Record adjustment']")
    expect(page.locator(".errorlist")).to_contain_text("This field is required.")
    expect(page.locator("#content")).to_contain_text("Current balance: 220 points.")
    browser.screenshot("reason-error")

    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.ADJUST, staff_user__isnull=False)
    assert (entry.amount, entry.balance_after, entry.staff_user, entry.reason) == (
        120, 220, staff, "Goodwill: order delivered two hours late")
    assert LedgerEntry.objects.filter(account=account).count() == 2  # the opening credit and this one
    assert PointAccount.objects.get(pk=account.pk).balance == 220
    assert ledger_mismatches() == []
    assert browser.outside_requests == []
    assert browser.error_responses == []


def test_api_docs_render_swagger_ui_from_local_static_files(browser):
    page = browser.page
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Taem loyalty API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/rewards/").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    browser.screenshot("swagger-ui")

    assert browser.outside_requests == []
    assert browser.error_responses == []
    assert all(url.startswith(browser.base_url) for url in requested), requested
    static = [url for url in requested if "/static/" in url]
    assert any(url.endswith("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
               for url in static), static
    assert any(url.endswith("swagger-ui.css") for url in static), static


def test_api_docs_on_a_public_hostname_reach_no_outside_host(browser):
    """Swagger UI skips some outside calls (its online validator badge) only on localhost and
    127.0.0.1; served under a public-looking name it must still stay on the machine."""
    page = browser.page
    origin = browser.serve_as("taem.example")

    page.goto(f"{origin}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Taem loyalty API")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the badge is requested just after the spec renders
    browser.screenshot("swagger-ui-public-host")

    assert browser.outside_requests == []
