"""In headless Chromium: both admin export pages (consent log, reports) share one jobs table and one
polling script (config/exports.py, admin/export_jobs/_table.html, members/export_jobs.js).

A job listed while queued is polled until the worker finishes it: the row then shows its counts,
"Done" and a download link that serves the file; a job that fails while the page is open shows
its error.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.analytics.models import ReportExport
from campaigns.analytics.reports import report_export_build
from consent.models import ConsentExport
from consent.reports import consent_export_build
from tests import factories

PASSWORD = "pw-for-tests"  # tests.factories.staff_user


@pytest.fixture
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def sign_in(page, username):
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()


def row_of(page, export):
    return page.locator(f"#exports tr[data-export='{export.pk}']")


def test_both_export_pages_poll_their_jobs_until_the_file_can_be_downloaded(browser, db, _media):
    brand = factories.brand_with_program("acme", "Acme Coffee")
    for code in ("EXPA0001", "EXPA0002", "EXPA0003"):
        factories.MemberFactory(brand=brand, code=code)
    staff = factories.staff_user(brands=[brand], username="exports-manager")
    consent_job = ConsentExport.objects.create(brand=brand, requested_by=staff)  # queued; no worker has run
    report_job = ReportExport.objects.create(brand=brand, requested_by=staff, kind="members")
    failing_job = ReportExport.objects.create(brand=brand, requested_by=staff, kind="purchases")
    page = browser.page
    sign_in(page, staff.username)

    # The consent log: queued when the page opens, then built by the "worker" (this thread).
    page.goto(reverse("admin:consent_exports"))
    row = row_of(page, consent_job)
    expect(row.locator(".progress-text")).to_have_text("0/0 · Queued")
    expect(row.locator(".download a")).to_have_count(0)
    consent_export_build(export_id=consent_job.pk)
    download_url = reverse("admin:consent_export_download", args=[consent_job.pk])
    expect(row.locator(".download a")).to_have_attribute("href", download_url)
    expect(row.locator(".progress-text")).to_have_text("0/0 · Done")
    assert row.locator("progress").evaluate("p => p.value") == 100
    with page.expect_download() as consent_file:
        row.locator(".download a").click()
    with open(consent_file.value.path(), encoding="utf-8") as handle:
        assert handle.read().startswith("\ufeffrecord_id,created_at,member_id")
    browser.screenshot("consent-export-done")

    # The reports: the same table and script; one job finishes, one fails while the page is open.
    page.goto(reverse("admin:analytics_exports"))
    row, failing = row_of(page, report_job), row_of(page, failing_job)
    expect(row.locator(".progress-text")).to_have_text("0/0 · Queued")
    expect(failing.locator(".progress-text")).to_have_text("0/0 · Queued")
    report_export_build(export_id=report_job.pk)
    ReportExport.objects.filter(pk=failing_job.pk).update(status=ReportExport.Status.FAILED, error="disk full")
    expect(row.locator(".download a")).to_have_attribute(
        "href", reverse("admin:analytics_export_download", args=[report_job.pk]))
    expect(row.locator(".progress-text")).to_have_text("3/3 · Done")
    expect(failing.locator(".download")).to_have_text("disk full")
    expect(failing.locator(".progress-text")).to_have_text("0/0 · Failed")
    with page.expect_download() as report_file:
        row.locator(".download a").click()
    with open(report_file.value.path(), encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("member_id,code,") and sorted(line.split(",")[1] for line in lines[1:]) == [
        "EXPA0001", "EXPA0002", "EXPA0003"]
    browser.screenshot("report-exports")
    assert browser.error_responses == []
