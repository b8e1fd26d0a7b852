"""In a real browser: staff build a segment in the admin and watch the audience count change.

Screenshots: ``test-artifacts/browser/test_the_builder_*.png``.
"""

import json
import re

from playwright.sync_api import expect

from campaigns.segments.models import MemberTag, MemberTagging, Segment
from tests import factories
from tests.browser.test_admin_adjust_points import admin_login


def test_the_builder_shows_the_live_count_and_a_sample_then_saves(browser, brand, other_brand, people):
    factories.MemberFactory(brand=other_brand, first_name="Zed", gender="female")  # another brand: never counted
    vip = MemberTag.objects.create(brand=brand, name="VIP")
    MemberTagging.objects.create(tag=vip, member=people["ann"])
    MemberTagging.objects.create(tag=vip, member=people["dan"])
    segment = Segment.objects.create(brand=brand, name="Women and VIPs")
    staff = factories.staff_user(brands=[brand], username="crm-manager")
    page = browser.page

    admin_login(browser, staff.username)
    page.goto(f"/admin/segments/segment/{segment.pk}/change/")
    count = page.get_by_test_id("segment-count")
    expect(count).to_have_text("5")  # no condition yet: every member of the brand
    expect(page.get_by_test_id("segment-summary")).to_have_text("all members")

    page.get_by_test_id("sb-add").first.click()
    page.get_by_test_id("sb-conditions-0-type").select_option("gender")
    page.get_by_test_id("sb-conditions-0-genders").get_by_label("Female").check()
    expect(count).to_have_text("1")
    expect(page.get_by_test_id("segment-summary")).to_have_text("gender Female")
    page.get_by_text("Sample of members").last.click()
    expect(page.get_by_test_id("segment-sample")).to_contain_text("ANNAAAAA")
    browser.screenshot("one-condition")

    page.get_by_test_id("sb-add").first.click()
    page.get_by_test_id("sb-conditions-1-type").select_option("tags")
    page.get_by_test_id("sb-conditions-1-tags").get_by_label("VIP").check()
    expect(count).to_have_text("1")  # Ann: female AND VIP
    page.get_by_test_id("sb-root-op").select_option("or")
    expect(count).to_have_text("2")  # Ann, Dan
    expect(page.get_by_test_id("segment-summary")).to_have_text("gender Female OR tagged VIP")

    page.get_by_test_id("sb-add").first.click()
    page.get_by_test_id("sb-conditions-2-type").select_option("age")
    page.get_by_test_id("sb-conditions-2-min").fill("50")
    page.get_by_test_id("sb-conditions-2-max").fill("40")
    expect(page.locator('[data-error-for="conditions.2"]')).to_have_text("The oldest age is below the youngest.")
    expect(count).to_have_text("–")
    page.get_by_test_id("sb-conditions-2-max").fill("70")
    expect(count).to_have_text("2")  # Dan (60) was already in
    browser.screenshot("or-group")

    page.locator("input[name=_continue]").click()
    expect(page).to_have_url(re.compile(rf"/admin/segments/segment/{segment.pk}/change/$"))
    segment.refresh_from_db()
    assert segment.definition == {"op": "or", "conditions": [
        {"type": "gender", "genders": ["female"]},
        {"type": "tags", "tags": [vip.pk], "match": "any"},
        {"type": "age", "min": 50, "max": 70}]}
    expect(count).to_have_text("2")
    assert json.loads(page.locator("#id_definition").input_value())["op"] == "or"
    assert browser.outside_requests == []
    assert [error for error in browser.error_responses if "/segments/segment/count/" not in error] == []
