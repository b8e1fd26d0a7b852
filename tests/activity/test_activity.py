"""Activity points: registration, complete profile, birthdays, surveys and the daily check-in."""

import threading
from datetime import date, datetime

import pytest
from django.db import connection, transaction

from config.domain import ValidationFailed
from loyalty import events
from loyalty.activity import services
from loyalty.activity.errors import ActivityUnavailable, SurveyNotFound
from loyalty.activity.models import ActivityAward, ActivityRule, Survey, SurveyResponse
from loyalty.activity.tasks import award_birthdays
from loyalty.models import LedgerEntry, PointAccount
from loyalty.services.ledger import BANGKOK
from loyalty.services.verification import ledger_mismatches
from members.models import Member, ProfileField
from members.profile import member_profile_update
from tests import factories


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def announce(event, member, django_capture_on_commit_callbacks, **payload):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit(event, member_id=member.pk, **payload)


def bangkok(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)


# --- check-in ------------------------------------------------------------------------------


def test_check_in_pays_once_per_bangkok_day_across_midnight(member, rules, time_machine):
    time_machine.move_to(bangkok(2026, 11, 26, 23, 58), tick=False)
    first = services.check_in(member=member)
    assert first.created and first.award.points == 5 and first.streak == 1
    assert first.next_check_in == bangkok(2026, 11, 27, 0, 0)
    again = services.check_in(member=member)
    assert not again.created and again.award == first.award
    assert LedgerEntry.objects.get().idempotency_key == f"activity:checkin:{member.pk}:2026-11-26"

    time_machine.move_to(bangkok(2026, 11, 27, 0, 1), tick=False)  # 17:01 UTC: a new day in Bangkok only
    next_day = services.check_in(member=member)
    assert next_day.created and next_day.streak == 2
    assert not services.check_in(member=member).created

    time_machine.move_to(bangkok(2026, 11, 29, 9, 0), tick=False)  # a day missed: the streak starts again
    assert services.check_in(member=member).streak == 1
    assert balance(member) == 15 and ActivityAward.objects.count() == 3
    entry = LedgerEntry.objects.order_by("id").first()
    assert (entry.kind, entry.channel, entry.reason) == ("earn", "activity", "Daily check-in")
    assert ledger_mismatches() == []


def test_without_an_active_rule_check_in_gives_nothing(member, rules):
    ActivityRule.objects.filter(activity="check_in").update(is_active=False)
    with pytest.raises(ActivityUnavailable):
        services.check_in(member=member)
    assert LedgerEntry.objects.count() == 0


def test_a_pending_member_cannot_check_in(brand, rules):
    pending = Member.objects.create(brand=brand, phone="+66891112222")
    with pytest.raises(ActivityUnavailable):
        services.check_in(member=pending)


@pytest.mark.django_db(transaction=True)
def test_two_check_ins_at_the_same_moment_pay_once():
    brand = factories.brand_with_program()
    ActivityRule.objects.create(brand=brand, activity="check_in", points=5, period="daily")
    member = factories.MemberFactory(brand=brand)
    barrier, results, errors = threading.Barrier(2), [], []

    def tap():
        try:
            barrier.wait(timeout=30)
            results.append(services.check_in(member=Member.objects.get(pk=member.pk)).created)
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(results) == [False, True]
    assert ActivityAward.objects.filter(member=member).count() == 1
    assert balance(member) == 5
    assert ledger_mismatches() == []


# --- registration and profile --------------------------------------------------------------


def test_registration_points_are_given_once(member, rules, django_capture_on_commit_callbacks):
    Member.objects.filter(pk=member.pk).update(email="", gender="")  # profile not complete
    announce(events.MEMBER_REGISTERED, member, django_capture_on_commit_callbacks)
    announce(events.MEMBER_REGISTERED, member, django_capture_on_commit_callbacks)
    assert balance(member) == 50
    assert LedgerEntry.objects.get().idempotency_key == f"activity:registration:{member.pk}"
    assert ledger_mismatches() == []


def test_a_registration_that_fills_the_whole_profile_earns_both(member, rules, django_capture_on_commit_callbacks):
    Member.objects.filter(pk=member.pk).update(email="a@example.com", gender="female", birth_date=date(1990, 5, 1))
    announce(events.MEMBER_REGISTERED, member, django_capture_on_commit_callbacks)
    assert balance(member) == 80
    assert set(ActivityAward.objects.values_list("activity", flat=True)) == {"registration", "profile_complete"}


def test_profile_points_come_once_when_every_field_and_required_custom_field_is_filled(
        member, rules, brand, django_capture_on_commit_callbacks):
    ProfileField.objects.create(brand=brand, key="drink", label_th="เครื่องดื่ม", kind="text", required=True)
    ProfileField.objects.create(brand=brand, key="note", label_th="หมายเหตุ", kind="text", required=False)
    with django_capture_on_commit_callbacks(execute=True):
        member = member_profile_update(member=member, changes={"email": "a@example.com", "gender": "male",
                                                               "birth_date": date(1991, 1, 2)})
    assert services.profile_missing(member=member) == ["custom:drink"]
    assert balance(member) == 0
    with django_capture_on_commit_callbacks(execute=True):
        member = member_profile_update(member=member, changes={}, custom_fields={"drink": "ชาไทย"})
    assert balance(member) == 30
    with django_capture_on_commit_callbacks(execute=True):
        member_profile_update(member=member, changes={"email": "b@example.com"})
        member_profile_update(member=member, changes={"email": ""})
        member_profile_update(member=member, changes={"email": "c@example.com"})
    assert balance(member) == 30
    assert ActivityAward.objects.filter(activity="profile_complete").count() == 1


def test_registration_in_the_portal_pays_the_welcome_points(client, fake_line, portal_brand, consents, settings,
                                                           django_capture_on_commit_callbacks):
    import re

    from members import sms
    from tests.liff.conftest import liff_login

    settings.SMS_BACKEND = "members.sms.LocmemBackend"
    ActivityRule.objects.create(brand=portal_brand, activity="registration", points=50)
    member = liff_login(client, fake_line, portal_brand, "U" + "5" * 32)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/liff/{portal_brand.slug}/register/", {"phone": "0815550009", "action": "send_code"})
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/liff/{portal_brand.slug}/register/", {
            "first_name": "Ploy", "last_name": "Dee", "phone": "0815550009", "code": code, "language": "th",
            "consents": [consents["terms"].pk, consents["privacy"].pk], "action": "register"})
    assert response.status_code == 302
    assert balance(member) == 50


# --- birthdays -----------------------------------------------------------------------------


@pytest.fixture
def birthday_people(brand):
    def person(born, **extra):
        return factories.MemberFactory(brand=brand, birth_date=born, **extra)

    return {
        "today": person(date(1990, 11, 26)),
        "later_this_month": person(date(1985, 11, 30)),
        "other_month": person(date(1992, 3, 26)),
        "no_birth_date": person(None),
        "pending": person(date(1990, 11, 26), status=Member.Status.PENDING),
    }


def test_birthday_points_on_the_day_are_selected_in_one_query_and_paid_once_a_year(
        rules, birthday_people, django_assert_num_queries):
    rule = rules["birthday"]
    today = date(2026, 11, 26)
    with django_assert_num_queries(1):
        due = list(services.birthday_members(rule=rule, today=today))
    assert due == [birthday_people["today"].pk]
    now = bangkok(2026, 11, 26, 7, 0)
    assert services.birthday_awards_run(today=today, now=now) == 1
    assert services.birthday_awards_run(today=today, now=now) == 0
    assert list(services.birthday_members(rule=rule, today=today)) == []
    assert balance(birthday_people["today"]) == 100
    entry = LedgerEntry.objects.get()
    assert entry.idempotency_key == f"activity:birthday:{birthday_people['today'].pk}:2026"
    # The next year pays again.
    assert services.birthday_awards_run(today=date(2027, 11, 26), now=bangkok(2027, 11, 26, 7, 0)) == 1
    assert balance(birthday_people["today"]) == 200
    assert ledger_mismatches() == []


def test_birthday_points_in_the_birth_month_are_paid_on_the_first_run_and_once(rules, birthday_people):
    ActivityRule.objects.filter(pk=rules["birthday"].pk).update(birthday_window="month")
    assert services.birthday_awards_run(today=date(2026, 11, 1), now=bangkok(2026, 11, 1, 7)) == 2
    assert services.birthday_awards_run(today=date(2026, 11, 2), now=bangkok(2026, 11, 2, 7)) == 0
    assert balance(birthday_people["later_this_month"]) == 100
    assert balance(birthday_people["other_month"]) == 0 and balance(birthday_people["pending"]) == 0


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years(brand, rules):
    leapling = factories.MemberFactory(brand=brand, birth_date=date(2000, 2, 29))
    assert list(services.birthday_members(rule=rules["birthday"], today=date(2027, 2, 28))) == [leapling.pk]
    assert list(services.birthday_members(rule=rules["birthday"], today=date(2028, 2, 28))) == []
    assert list(services.birthday_members(rule=rules["birthday"], today=date(2028, 2, 29))) == [leapling.pk]


def test_the_daily_birthday_task_queues_batches_and_a_rerun_pays_nothing(rules, birthday_people, time_machine):
    time_machine.move_to(bangkok(2026, 11, 26, 7, 0), tick=False)
    assert award_birthdays.delay().get() == 1
    assert award_birthdays.delay("2026-11-26").get() == 0
    assert balance(birthday_people["today"]) == 100


# --- surveys -------------------------------------------------------------------------------


QUESTIONS = [
    {"key": "visits", "type": "choice", "label_th": "มาร้านบ่อยแค่ไหน", "label_en": "How often do you visit?",
     "required": True, "choices": [{"value": "weekly", "th": "ทุกสัปดาห์", "en": "Every week"},
                                   {"value": "monthly", "th": "ทุกเดือน", "en": "Every month"}]},
    {"key": "idea", "type": "text", "label_th": "อยากให้มีเมนูอะไร", "required": False},
]


@pytest.fixture
def survey(brand):
    return Survey.objects.create(brand=brand, title="แบบสอบถามความพึงพอใจ", title_en="Satisfaction survey",
                                 questions=QUESTIONS, points=20)


def test_a_survey_is_answered_once_and_pays_once(member, survey):
    with pytest.raises(ValidationFailed) as invalid:
        services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "daily"})
    assert "q_visits" in invalid.value.fields and SurveyResponse.objects.count() == 0
    first = services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "weekly", "idea": "โกโก้"})
    assert first.created and first.points == 20
    assert first.response.answers == {"visits": "weekly", "idea": "โกโก้"}
    again = services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "monthly"})
    assert not again.created and again.response == first.response
    assert balance(member) == 20 and SurveyResponse.objects.count() == 1
    assert LedgerEntry.objects.get().idempotency_key == f"activity:survey:{survey.pk}:{member.pk}"
    assert ledger_mismatches() == []


def test_survey_points_respect_the_rules_switch_and_daily_cap(member, survey, brand, rules):
    ActivityRule.objects.filter(activity="survey").update(daily_cap=1)
    second = Survey.objects.create(brand=brand, title="อีกแบบสอบถาม", questions=QUESTIONS, points=20)
    assert services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "weekly"}).points == 20
    capped = services.survey_submit(survey_id=second.pk, member=member, answers={"visits": "weekly"})
    assert capped.created and capped.capped and capped.points == 0
    assert balance(member) == 20
    ActivityRule.objects.filter(activity="survey").update(is_active=False)
    third = Survey.objects.create(brand=brand, title="ที่สาม", questions=QUESTIONS, points=20)
    assert services.survey_submit(survey_id=third.pk, member=member, answers={"visits": "weekly"}).points == 0


def test_closed_or_foreign_surveys_cannot_be_answered(member, survey, other_brand):
    foreign = Survey.objects.create(brand=other_brand, title="x", questions=QUESTIONS, points=5)
    with pytest.raises(SurveyNotFound):
        services.survey_submit(survey_id=foreign.pk, member=member, answers={"visits": "weekly"})
    Survey.objects.filter(pk=survey.pk).update(ends_at=datetime(2020, 1, 1, tzinfo=BANGKOK))
    with pytest.raises(SurveyNotFound):
        services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "weekly"})


def test_survey_questions_are_validated_for_staff(brand):
    from django.core.exceptions import ValidationError

    bad = Survey(brand=brand, title="x", questions=[{"key": "a", "type": "choice", "label_th": "ก"}], points=1)
    with pytest.raises(ValidationError):
        bad.full_clean()
    Survey(brand=brand, title="x", questions=QUESTIONS, points=1).full_clean()


# --- portal pages --------------------------------------------------------------------------


def test_the_check_in_page_checks_in_once_and_says_come_back_tomorrow(client, active_member, portal_brand):
    ActivityRule.objects.create(brand=portal_brand, activity="check_in", points=5, period="daily")
    url = f"/liff/{portal_brand.slug}/activity/check-in/"
    page = client.get(url)
    assert page.status_code == 200 and b'data-testid="check-in-button"' in page.content
    done = client.post(url)
    assert done.status_code == 302 and done["Location"].endswith("?done=1")
    shown = client.get(done["Location"]).content.decode()
    assert 'data-testid="checked-in"' in shown and "Come back tomorrow" in shown and "Days in a row: 1" in shown
    again = client.post(url)
    assert again["Location"].endswith("?done=0")
    assert 'data-testid="already-checked-in"' in client.get(again["Location"]).content.decode()
    assert balance(active_member) == 5


def test_the_activity_page_lists_what_can_be_earned(client, active_member, portal_brand):
    ActivityRule.objects.create(brand=portal_brand, activity="check_in", points=5, period="daily")
    ActivityRule.objects.create(brand=portal_brand, activity="profile_complete", points=30)
    Survey.objects.create(brand=portal_brand, title="แบบสอบถาม", title_en="Survey", questions=QUESTIONS, points=20)
    page = client.get(f"/liff/{portal_brand.slug}/activity/").content.decode()
    assert 'data-testid="activity-check-in"' in page and 'data-testid="activity-profile"' in page
    assert "Survey" in page and "+20" in page


def test_the_survey_page_records_the_answer_and_pays_once(client, active_member, portal_brand):
    survey = Survey.objects.create(brand=portal_brand, title="แบบสอบถาม", title_en="Survey", questions=QUESTIONS,
                                   points=20)
    url = f"/liff/{portal_brand.slug}/activity/surveys/{survey.pk}/"
    assert "How often do you visit?" in client.get(url).content.decode()
    missing = client.post(url, {"q_idea": "ชาเขียว"})
    assert missing.status_code == 400 and SurveyResponse.objects.count() == 0
    done = client.post(url, {"q_visits": "weekly", "q_idea": "ชาเขียว"})
    assert done.status_code == 302
    assert 'data-testid="survey-done"' in client.get(done["Location"]).content.decode()
    assert client.post(url, {"q_visits": "monthly"}).status_code == 200  # shows "already answered"
    assert balance(active_member) == 20 and SurveyResponse.objects.get().answers["visits"] == "weekly"


def test_activity_pages_need_a_signed_in_member(client, portal_brand):
    page = client.get(f"/liff/{portal_brand.slug}/activity/check-in/")
    assert page.status_code == 200 and b'data-authenticated="0"' in page.content
    assert client.post(f"/liff/{portal_brand.slug}/activity/check-in/").status_code in (200, 403)
    assert ActivityAward.objects.count() == 0


def test_award_rows_are_append_only(member, rules):
    award = services.check_in(member=member).award
    with pytest.raises(ValueError):
        award.save()


def test_streak_counts_back_from_yesterday_until_today_is_done(member, rules, time_machine):
    for day in (24, 25):
        time_machine.move_to(bangkok(2026, 11, day, 12), tick=False)
        services.check_in(member=member)
    assert services.check_in_streak(member=member, today=date(2026, 11, 26)) == 2
    assert services.check_in_streak(member=member, today=date(2026, 11, 27)) == 0


def test_the_demo_rules_and_survey_seed_once(brand):
    from loyalty.activity.demo import demo_activity_seed

    demo_activity_seed(brand=brand)
    demo_activity_seed(brand=brand)
    rules = {rule.activity: rule for rule in ActivityRule.objects.filter(brand=brand)}
    assert set(rules) == {"registration", "profile_complete", "birthday", "check_in", "survey"}
    assert (rules["check_in"].period, rules["birthday"].period) == ("daily", "yearly")
    survey = Survey.objects.get(brand=brand)
    survey.full_clean()


def test_the_staff_pages_render_for_a_brand_manager(client, brand, member, rules, survey):
    from django.contrib.auth.models import Permission

    services.check_in(member=member)
    services.survey_submit(survey_id=survey.pk, member=member, answers={"visits": "weekly"})
    staff = factories.staff_user(brands=[brand], username="activity-manager")
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="activity"))
    client.force_login(staff)
    for page in ("activityrule", "survey", "surveyresponse", "activityaward"):
        assert client.get(f"/admin/activity/{page}/").status_code == 200, page
    assert client.get("/admin/activity/activityrule/add/").status_code == 200
    assert client.get(f"/admin/activity/surveyresponse/{SurveyResponse.objects.get().pk}/change/").status_code == 200
    response = client.post("/admin/activity/survey/add/", {
        "brand": brand.pk, "title": "ใหม่", "points": 5, "is_active": "on", "questions": "[]"})
    assert response.status_code == 200 and Survey.objects.count() == 1  # no questions: refused
