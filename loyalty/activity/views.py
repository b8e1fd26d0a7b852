"""The member portal's activity pages (LIFF): overview, daily check-in, surveys.

Thin: the portal's ``member_page`` finds the session's member (never an id from the
browser); the services award. Every POST redirects (a reload never posts again, and a
repeated post is harmless anyway).
"""

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from config.domain import ValidationFailed
from liff_frontend.portal import _context, member_page
from members.models import Brand, Member

from . import selectors
from .errors import ActivityUnavailable, SurveyNotFound
from .models import Activity
from .services import (
    activity_rule,
    bangkok_today,
    check_in,
    check_in_streak,
    checked_in_today,
    next_bangkok_midnight,
    survey_submit,
)
from .surveys import choice_options, question_label


@member_page("activity")
def activity_home(request, brand: Brand, member: Member):
    overview = selectors.activity_overview(member=member)
    return render(request, "activity/home.html", _context(request, brand, member, "activity", overview=overview,
                                                          Activity=Activity))


@require_http_methods(["GET", "POST"])
@member_page("activity")
def check_in_page(request, brand: Brand, member: Member):
    rule = activity_rule(brand_id=brand.pk, activity=Activity.CHECK_IN)
    if rule is None:
        return render(request, "activity/check_in.html", _context(request, brand, member, "activity", rule=None),
                      status=404)
    if request.method == "POST":
        try:
            result = check_in(member=member)
        except ActivityUnavailable:
            raise Http404 from None
        return redirect(f"{reverse('liff:activity:check-in', args=[brand.slug])}?done={int(result.created)}")
    today = checked_in_today(member=member)
    context = _context(request, brand, member, "activity", rule=rule, today=today,
                       streak=check_in_streak(member=member, today=bangkok_today()),
                       next_at=next_bangkok_midnight(), just_done=request.GET.get("done") == "1")
    return render(request, "activity/check_in.html", context)


def _question_rows(survey, member: Member, values: dict, errors: dict) -> list[dict]:
    return [{"key": question["key"], "name": f"q_{question['key']}", "type": question["type"],
             "label": question_label(question, member.language), "required": bool(question.get("required")),
             "options": choice_options(question, member.language), "value": values.get(question["key"], ""),
             "errors": errors.get(f"q_{question['key']}", [])} for question in survey.questions]


@require_http_methods(["GET", "POST"])
@member_page("activity")
def survey_page(request, brand: Brand, member: Member, survey_id: int):
    survey = selectors.survey_open_for(member=member, survey_id=survey_id)
    if survey is None:
        raise Http404
    response = selectors.survey_response_of(member=member, survey=survey)
    values, errors = {}, {}
    if request.method == "POST" and response is None:
        values = {question["key"]: request.POST.get(f"q_{question['key']}", "") for question in survey.questions}
        try:
            survey_submit(survey_id=survey.pk, member=member, answers=values)
        except ValidationFailed as error:
            errors = error.fields
        except SurveyNotFound:
            raise Http404 from None
        else:
            return redirect(f"{reverse('liff:activity:survey', args=[brand.slug, survey.pk])}?done=1")
    context = _context(request, brand, member, "activity", survey=survey,
                       title=survey.display_title(member.language), response=response,
                       questions=_question_rows(survey, member, values, errors), errors=errors,
                       just_done=request.GET.get("done") == "1")
    return render(request, "activity/survey.html", context, status=400 if errors else 200)
