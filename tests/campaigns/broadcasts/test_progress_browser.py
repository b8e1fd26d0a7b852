"""In a real browser: the admin progress page of a broadcast follows the batches live, pauses and resumes.

Screenshots: ``test-artifacts/browser/*progress*.png``.
"""

import re

from playwright.sync_api import expect

from campaigns.broadcasts.services import broadcast_send_batch, broadcast_start
from tests import factories
from tests.browser.test_admin_adjust_points import admin_login

from .conftest import make_broadcast


def test_the_progress_page_updates_live_and_pause_and_resume_work(
        browser, settings, people, line_brand, segment, fake_line):
    settings.BROADCAST_PARALLEL_TASKS = 0  # no batch task runs by itself: the test sends the batches
    members = people.many(4)
    people.make("Nobody", consent=False)
    broadcast = make_broadcast(line_brand, segment, name="Songkran double points")
    broadcast_start(broadcast=broadcast, batch_size=2)
    factories.staff_user(brands=[line_brand], username="promo-manager")
    page = browser.page

    admin_login(browser, "promo-manager")
    page.goto(f"/admin/broadcasts/broadcast/{broadcast.pk}/progress/")
    expect(page.get_by_test_id("status")).to_have_text("Sending")
    expect(page.get_by_test_id("sent")).to_have_text("0")
    expect(page.get_by_test_id("pending")).to_have_text("4")
    expect(page.get_by_test_id("skipped")).to_have_text("1")
    expect(page.get_by_test_id("percent")).to_have_text("0%")

    assert broadcast_send_batch(broadcast_id=broadcast.pk) == 2  # a worker sends one batch
    expect(page.get_by_test_id("sent")).to_have_text("2")  # the page polls the JSON endpoint
    expect(page.get_by_test_id("pending")).to_have_text("2")
    expect(page.get_by_test_id("percent")).to_have_text("50%")
    expect(page.get_by_test_id("bar")).to_have_attribute("aria-valuenow", "50")
    browser.screenshot("progress-half")

    page.get_by_test_id("control-pause").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Paused.")
    expect(page.get_by_test_id("status")).to_have_text("Paused")
    assert broadcast_send_batch(broadcast_id=broadcast.pk) is None  # paused: nothing claimed

    settings.BROADCAST_PARALLEL_TASKS = 1  # resuming queues a batch task (run eagerly here)
    page.get_by_test_id("control-resume").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Resumed.")
    expect(page.get_by_test_id("status")).to_have_text(re.compile("Sent"))
    expect(page.get_by_test_id("sent")).to_have_text("4")
    expect(page.get_by_test_id("percent")).to_have_text("100%")
    browser.screenshot("progress-done")

    assert [len(fake_line.inbox(m.line_user_id)) for m in members] == [1, 1, 1, 1]
    assert browser.outside_requests == []
    assert browser.error_responses == []
