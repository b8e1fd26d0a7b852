"""Expiry reminders: created set-based once per account and expiry day, sent once on LINE."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from loyalty.expiry_tasks import remind_expiring_points
from loyalty.models import ExpiryReminder, JobRun, PointCurrency
from loyalty.services.expiry import expiry_reminders_create
from members.models import Member
from messaging.models import OutboundMessage
from messaging.reminders import expiry_reminders_send
from tests import factories

BANGKOK = ZoneInfo("Asia/Bangkok")

pytestmark = pytest.mark.django_db


def midnight_in(days: int) -> datetime:
    """00:00 Bangkok, ``days`` days after today (Bangkok)."""
    today = timezone.localtime(timezone.now(), BANGKOK).date()
    return datetime.combine(today + timedelta(days=days), time.min, tzinfo=BANGKOK)


@pytest.fixture
def reachable(line_brand, fake_line):
    def make(name: str, **fields) -> Member:
        member = factories.MemberFactory(brand=line_brand, first_name=name,
                                         **{"line_reachable": True, "language": "en", **fields})
        fake_line.add_user(member.line_user_id, display_name=name)
        return member
    return make


def test_one_reminder_per_account_and_expiry_day_for_reachable_active_members(line_brand, reachable):
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=7)
    malee = reachable("Malee")
    factories.give_points(malee, 70, key="a", expires_at=midnight_in(3))
    factories.give_points(malee, 30, key="b", expires_at=midnight_in(3))  # same day: one reminder of 100
    factories.give_points(malee, 5, key="c", expires_at=midnight_in(7))  # the last day of the window
    factories.give_points(malee, 9, key="d", expires_at=midnight_in(8))  # outside the window
    factories.give_points(malee, 11, key="e", expires_at=midnight_in(200))
    blocked = reachable("Blocked", line_reachable=False)
    factories.give_points(blocked, 50, key="f", expires_at=midnight_in(3))
    pending = reachable("Pending", status=Member.Status.PENDING)
    factories.give_points(pending, 50, key="g", expires_at=midnight_in(3))

    assert expiry_reminders_create() == 2
    assert expiry_reminders_create() == 0  # the job ran twice today

    today = timezone.localtime(timezone.now(), BANGKOK).date()
    assert sorted(ExpiryReminder.objects.values_list("member__first_name", "expires_on", "points")) == [
        ("Malee", today + timedelta(days=3), 100), ("Malee", today + timedelta(days=7), 5)]
    assert list(JobRun.objects.filter(job="expiry_reminders_create").values_list("rows", flat=True)) == [0, 2]


def test_no_reminder_when_the_currency_never_expires_or_reminds_zero_days(line_brand, reachable):
    member = reachable("Nok")
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=0)
    factories.give_points(member, 10, key="a", expires_at=midnight_in(1))
    assert expiry_reminders_create() == 0
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="never", reminder_days=7)
    assert expiry_reminders_create() == 0
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=1)
    assert expiry_reminders_create() == 1


def test_reminders_are_sent_once_to_the_fake_line_server(line_brand, reachable, fake_line,
                                                         django_capture_on_commit_callbacks):
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=7)
    malee, nok = reachable("Malee"), reachable("Nok")
    factories.give_points(malee, 70, key="a", expires_at=midnight_in(3))
    factories.give_points(nok, 1200, key="b", expires_at=midnight_in(5))
    expiry_reminders_create()

    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_send(batch=1) == 2  # two batches of one
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_send() == 0

    (to_malee,) = fake_line.inbox(malee.line_user_id)
    (to_nok,) = fake_line.inbox(nok.line_user_id)
    assert to_malee["altText"].startswith("70 of your points expire on")
    assert to_nok["altText"].startswith("1,200 of your points expire on")
    assert ExpiryReminder.objects.filter(sent_at__isnull=True).count() == 0
    day = (timezone.localdate(midnight_in(3), BANGKOK)).isoformat()
    account_id = malee.accounts.get().pk
    assert OutboundMessage.objects.filter(dedupe_key=f"expiring:{account_id}:{day}").count() == 1


def test_a_reminder_marked_unsent_again_is_not_pushed_twice(line_brand, reachable, fake_line,
                                                           django_capture_on_commit_callbacks):
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=7)
    malee = reachable("Malee")
    factories.give_points(malee, 70, key="a", expires_at=midnight_in(3))
    expiry_reminders_create()
    with django_capture_on_commit_callbacks(execute=True):
        expiry_reminders_send()
    ExpiryReminder.objects.update(sent_at=None)  # as if the mark had been lost after the push was recorded
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_send() == 1
    assert len(fake_line.inbox(malee.line_user_id)) == 1


def test_the_daily_task_creates_and_sends_without_marketing_consent(line_brand, reachable, fake_line,
                                                                    django_capture_on_commit_callbacks):
    PointCurrency.objects.filter(brand=line_brand).update(expiry_policy="days", reminder_days=7)
    malee = reachable("Malee")  # no marketing consent recorded: reminders are transactional
    factories.give_points(malee, 70, key="soon", expires_at=midnight_in(3))
    factories.give_points(malee, 30, key="later", expires_at=midnight_in(200))
    with django_capture_on_commit_callbacks(execute=True):
        assert remind_expiring_points.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert remind_expiring_points.delay().get() == 0  # the job ran twice today
    (reminder,) = fake_line.inbox(malee.line_user_id)
    assert reminder["altText"].startswith("70 of your points expire on")
