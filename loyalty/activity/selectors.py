"""Reads for the activity pages; every selector is scoped by the member's brand."""

from dataclasses import dataclass
from datetime import datetime

from .models import Activity, ActivityAward, ActivityRule, Survey, SurveyResponse
from .services import bangkok_today, check_in_streak, profile_missing, surveys_open


@dataclass(frozen=True)
class SurveyItem:
    survey: Survey
    title: str
    answered: bool


@dataclass(frozen=True)
class ActivityOverview:
    rules: dict[str, ActivityRule]
    awarded: set[str]  # once-only activities already awarded
    checked_in_today: ActivityAward | None
    streak: int
    profile_missing: list[str]
    birthday_awarded_this_year: bool
    surveys: list[SurveyItem]


def activity_overview(*, member, now: datetime | None = None) -> ActivityOverview:
    today = bangkok_today(now)
    rules = {rule.activity: rule for rule in ActivityRule.objects.filter(brand_id=member.brand_id, is_active=True)}
    awards = ActivityAward.objects.filter(member=member)
    awarded = set(awards.filter(period_key="once").values_list("activity", flat=True))
    answered = set(SurveyResponse.objects.filter(member=member).values_list("survey_id", flat=True))
    return ActivityOverview(
        rules=rules,
        awarded=awarded,
        checked_in_today=awards.filter(activity=Activity.CHECK_IN, period_key=today.isoformat()).first(),
        streak=check_in_streak(member=member, today=today),
        profile_missing=profile_missing(member=member),
        birthday_awarded_this_year=awards.filter(activity=Activity.BIRTHDAY, period_key=str(today.year)).exists(),
        surveys=[SurveyItem(survey, survey.display_title(member.language), survey.pk in answered)
                 for survey in surveys_open(brand_id=member.brand_id, now=now)[:20]],
    )


def survey_open_for(*, member, survey_id: int, now: datetime | None = None) -> Survey | None:
    return surveys_open(brand_id=member.brand_id, now=now).filter(pk=survey_id).first()


def survey_response_of(*, member, survey: Survey) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(survey=survey, member=member).first()
