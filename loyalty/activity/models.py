"""Activity points: registration, a complete profile, birthdays, surveys, daily check-in.

Design overview
- ``ActivityRule`` is the brand's configuration of one activity (one rule per brand and
  activity): points, currency, period and an optional per-member daily cap.
- Every award goes through ``loyalty.services.ledger.points_post`` (kind ``earn``,
  channel ``activity``) with an idempotency key derived from the member and the period
  (``activity:registration:{member}``, ``activity:birthday:{member}:{year}``,
  ``activity:checkin:{member}:{Bangkok date}``, ``activity:survey:{survey}:{member}``),
  so a replay writes nothing.
- ``ActivityAward`` records each award once: ``(member, activity, period_key)`` is unique,
  written in the same transaction as the ledger entry while the member's account is
  locked. It answers "checked in today?", streaks and daily caps without reading the
  ledger.
- ``Survey`` is a staff-defined questionnaire; ``SurveyResponse`` is unique per
  ``(survey, member)``: one answer, points once.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .surveys import questions_problems


class Activity(models.TextChoices):
    REGISTRATION = "registration", _("Registration")
    PROFILE_COMPLETE = "profile_complete", _("Complete profile")
    BIRTHDAY = "birthday", _("Birthday")
    SURVEY = "survey", _("Survey")
    CHECK_IN = "check_in", _("Daily check-in")


class Period(models.TextChoices):
    ONCE = "once", _("Once")
    YEARLY = "yearly", _("Once a year")
    DAILY = "daily", _("Once a day")


PERIOD_OF = {
    Activity.REGISTRATION: Period.ONCE,
    Activity.PROFILE_COMPLETE: Period.ONCE,
    Activity.BIRTHDAY: Period.YEARLY,
    Activity.SURVEY: Period.ONCE,  # once per survey
    Activity.CHECK_IN: Period.DAILY,
}


class ActivityRule(models.Model):
    class BirthdayWindow(models.TextChoices):
        ON_THE_DAY = "day", _("On the birthday")
        BIRTH_MONTH = "month", _("Any day of the birth month")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="activity_rules")
    activity = models.CharField(_("activity"), max_length=20, choices=Activity.choices)
    points = models.PositiveIntegerField(
        _("points"), default=10,
        help_text=_("For surveys, each survey sets its own points; this rule can switch survey points off and cap "
                    "them."),
    )
    currency = models.ForeignKey(
        "loyalty.PointCurrency", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("currency"), help_text=_("Empty: the brand's default currency."),
    )
    period = models.CharField(_("period"), max_length=10, choices=Period.choices, default=Period.ONCE)
    daily_cap = models.PositiveIntegerField(
        _("daily cap per member"), null=True, blank=True,
        help_text=_("At most this many awards of this activity per member per day (Bangkok). Empty: no cap."),
    )
    birthday_window = models.CharField(_("birthday points"), max_length=8, choices=BirthdayWindow.choices,
                                       default=BirthdayWindow.ON_THE_DAY)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("activity rule")
        verbose_name_plural = _("activity rules")
        ordering = ["brand", "activity"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "activity"], name="activity_rule_unique_per_brand"),
            models.CheckConstraint(condition=Q(daily_cap__isnull=True) | Q(daily_cap__gt=0),
                                   name="activity_daily_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_activity_display()}: {self.points}"

    def clean(self):
        errors = {}
        self.period = PERIOD_OF.get(self.activity, self.period)  # each activity has its one period
        if self.currency_id and self.brand_id and self.currency.brand_id != self.brand_id:
            errors["currency"] = _("The currency must belong to the rule's brand.")
        if self.activity != Activity.SURVEY and not self.points:
            errors["points"] = _("Give at least one point.")
        if errors:
            raise ValidationError(errors)


class ActivityAward(models.Model):
    """One activity award (append-only); the ledger entry holds the points."""

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="activity_awards")
    activity = models.CharField(_("activity"), max_length=20, choices=Activity.choices)
    period_key = models.CharField(_("period"), max_length=40)
    day = models.DateField(_("day (Bangkok)"))
    points = models.BigIntegerField(_("points"))
    entry = models.OneToOneField("loyalty.LedgerEntry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("awarded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity award")
        verbose_name_plural = _("activity awards")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "activity", "period_key"], name="activity_award_once"),
        ]
        indexes = [models.Index(fields=["member", "activity", "-day"], name="activity_award_member_day")]

    def __str__(self) -> str:
        return f"{self.get_activity_display()} {self.period_key} +{self.points}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("ActivityAward rows are append-only")
        super().save(*args, **kwargs)


QUESTIONS_EXAMPLE = (
    '[{"key": "visit", "type": "choice", "label_th": "…", "label_en": "…", "required": true, '
    '"choices": [{"value": "weekly", "th": "ทุกสัปดาห์", "en": "Every week"}]}, '
    '{"key": "idea", "type": "text", "label_th": "…", "required": false}]'
)


class Survey(models.Model):
    """A staff-defined questionnaire.

    ``questions`` is a list of ``{"key", "type": "text" | "choice", "label_th", "label_en",
    "required", "choices": [{"value", "th", "en"}]}``.
    """

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="surveys")
    title = models.CharField(_("title (Thai)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    questions = models.JSONField(
        _("questions"), default=list,
        help_text=format_lazy("{} {}", _("A JSON list of questions (type text or choice), for example:"),
                              QUESTIONS_EXAMPLE),
    )
    points = models.PositiveIntegerField(_("points"), default=20)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def display_title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title

    def clean(self):
        problems = questions_problems(self.questions)
        if problems:
            raise ValidationError({"questions": problems})


class SurveyResponse(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="survey_responses")
    answers = models.JSONField(_("answers"), default=dict)
    points = models.BigIntegerField(_("points"), default=0)
    created_at = models.DateTimeField(_("answered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["survey", "member"], name="survey_response_once")]

    def __str__(self) -> str:
        return f"{self.survey_id} · {self.member_id}"
