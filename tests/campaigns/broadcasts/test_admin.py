"""Broadcast admin: brand scoping, audience and preview, controls, progress JSON, results, test send."""

import pytest
from django.urls import reverse

from campaigns.broadcasts.models import Broadcast, BroadcastRecipient
from campaigns.segments.models import Segment
from tests import factories

from .conftest import make_broadcast


@pytest.fixture
def staff_client(client, line_brand):
    client.force_login(factories.staff_user(brands=[line_brand], username="brand-a-manager"))
    return client


@pytest.fixture
def foreign(other_brand):
    segment = Segment.objects.create(brand=other_brand, name="Theirs", definition={})
    return make_broadcast(other_brand, segment, name="Other brand's promo")


def url(name, broadcast):
    return reverse(f"admin:broadcasts_broadcast_{name}", args=[broadcast.pk])


def test_staff_see_and_open_only_their_brands_broadcasts(staff_client, line_brand, segment, foreign):
    own = make_broadcast(line_brand, segment, name="Our promo")

    listing = staff_client.get(reverse("admin:broadcasts_broadcast_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [own]
    for name in ("change", "audience", "progress", "progress_json", "results", "test_send"):
        assert staff_client.get(url(name, own)).status_code == 200, name
        assert staff_client.get(url(name, foreign)).status_code in (302, 404), name
    assert staff_client.post(url("control", foreign), {"action": "start"}).status_code == 404
    assert Broadcast.objects.get(pk=foreign.pk).status == "draft"


def test_the_form_refuses_another_brands_segment(staff_client, line_brand, segment, foreign):
    response = staff_client.post(reverse("admin:broadcasts_broadcast_add"), {
        "brand": line_brand.pk, "name": "x", "segment": foreign.segment_id, "message_kind": "text",
        "text_th": "สวัสดี", "holdout_percent": 0, "results_days": 7, "cost_per_message_thb": "0"})
    assert response.status_code == 200
    assert "segment" in response.context["adminform"].form.errors
    assert Broadcast.objects.filter(brand=line_brand).count() == 0


def test_audience_page_counts_and_previews_in_thai_and_english(staff_client, people, line_brand, segment):
    people.make("Anan")
    people.make("Busaba", consent=False)
    broadcast = make_broadcast(line_brand, segment, text_th="สวัสดีคุณ{first_name}", text_en="Hello {first_name}")

    page = staff_client.get(url("audience", broadcast))

    audience = page.context["audience"]
    assert (audience.total, audience.no_consent, audience.to_send) == (2, 1, 1)
    assert page.context["previews"][1][1] == [{"type": "text", "text": "Hello Somchai"}]
    assert "Hello Somchai" in page.content.decode()


def test_send_now_pause_and_progress_json(staff_client, people, line_brand, segment, fake_line,
                                          django_capture_on_commit_callbacks):
    members = people.many(3)
    broadcast = make_broadcast(line_brand, segment)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url("control", broadcast), {"action": "start"})
    assert response.status_code == 302 and response["Location"] == url("progress", broadcast)

    data = staff_client.get(url("progress_json", broadcast)).json()
    assert {key: data[key] for key in ("status", "total", "sent", "failed", "pending", "percent")} == {
        "status": "sent", "total": 3, "sent": 3, "failed": 0, "pending": 0, "percent": 100}
    assert [len(fake_line.inbox(m.line_user_id)) for m in members] == [1, 1, 1]
    response = staff_client.post(url("control", broadcast), {"action": "pause"}, follow=True)
    assert "This broadcast cannot do that in its current status." in response.content.decode()


def test_a_sent_broadcast_cannot_be_edited_and_its_results_page_shows_numbers(
        staff_client, people, line_brand, segment, django_capture_on_commit_callbacks):
    people.make("Anan")
    broadcast = make_broadcast(line_brand, segment)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url("control", broadcast), {"action": "start"})

    change = staff_client.get(url("change", broadcast))
    assert "text_th" not in change.context["adminform"].form.fields
    results = staff_client.get(url("results", broadcast))
    assert results.context["results"].delivered == 1
    assert 'data-testid="delivered">1<' in results.content.decode()


def test_test_send_from_admin_is_not_counted(staff_client, people, line_brand, segment, fake_line,
                                            django_capture_on_commit_callbacks):
    me = people.make("Staff", consent=False)
    broadcast = make_broadcast(line_brand, segment, text_th="ทดสอบ {first_name}")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url("test_send", broadcast), {"member_code": me.code.lower()}, follow=True)

    assert "It is not counted." in response.content.decode()
    assert fake_line.inbox(me.line_user_id) == [{"type": "text", "text": "ทดสอบ Staff"}]
    assert BroadcastRecipient.objects.count() == 0
    response = staff_client.post(url("test_send", broadcast), {"member_code": "NOPE"})
    assert "No member of this brand has that code." in response.content.decode()
