"""Awarding activity points: once per period, capped, through the one ledger write path.

``activity_award`` is the only writer. Contract: it locks the member's point account
(``SELECT ... FOR UPDATE``), checks that this ``(member, activity, period)`` was not
awarded and that the rule's daily cap leaves room, then writes the ledger entry (via
``points_post``, keyed by the activity's idempotency key) and the ``ActivityAward`` row in
the same transaction. Replays and concurrent duplicates return the first award and write
nothing; the unique award row and the ledger key both refuse a second one.

Periods are Bangkok calendar days and years.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone, translation

from config.domain import ValidationFailed
from loyalty import events
from loyalty.models import LedgerEntry, PointCurrency
from loyalty.services.ledger import (
    BANGKOK,
    Channel,
    Kind,
    Source,
    account_get_or_create,
    accounts_lock,
    lot_expiry,
    points_post,
)
from members.models import Member
from members.profile import profile_fields

from .errors import ActivityUnavailable, DailyCapReached, SurveyNotFound
from .models import Activity, ActivityAward, ActivityRule, Survey, SurveyResponse
from .surveys import answers_clean

PROFILE_REQUIRED = ("first_name", "last_name", "phone", "email", "birth_date", "gender")
KEY_NAMES = {Activity.REGISTRATION: "registration", Activity.PROFILE_COMPLETE: "profile_complete",
             Activity.BIRTHDAY: "birthday", Activity.SURVEY: "survey", Activity.CHECK_IN: "checkin"}


def bangkok_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), BANGKOK).date()


def activity_rule(*, brand_id: int, activity: str) -> ActivityRule | None:
    """The brand's active rule for this activity, or None."""
    return (ActivityRule.objects.filter(brand_id=brand_id, activity=activity, is_active=True)
            .select_related("currency").first())


def _currency(rule: ActivityRule | None, brand_id: int) -> PointCurrency:
    if rule is not None and rule.currency_id:
        return rule.currency
    return PointCurrency.objects.get(brand_id=brand_id, is_default=True)


@dataclass(frozen=True)
class AwardResult:
    award: ActivityAward
    created: bool


def activity_award(*, member: Member, activity: str, period_key: str, idempotency_key: str, points: int,
                   currency: PointCurrency, daily_cap: int | None = None, now: datetime | None = None,
                   reference: str = "") -> AwardResult:
    """Award ``points`` for ``activity`` in ``period_key`` once (see the module docstring).

    Raises ``DailyCapReached`` (nothing written) when the member already had ``daily_cap``
    awards of this activity today, ``ActivityUnavailable`` for members who are not active.
    """
    if member.status != Member.Status.ACTIVE or points <= 0:
        raise ActivityUnavailable()
    now = now or timezone.now()
    existing = ActivityAward.objects.filter(member=member, activity=activity, period_key=period_key).first()
    if existing is not None:
        return AwardResult(existing, created=False)
    day = bangkok_today(now)
    account = account_get_or_create(member=member, currency=currency)
    with translation.override(None):  # stored in the source language, whatever the request's
        reason = str(Activity(activity).label)
    try:
        with transaction.atomic():
            locked = accounts_lock([account.pk])[account.pk]
            existing = ActivityAward.objects.filter(member=member, activity=activity, period_key=period_key).first()
            if existing is not None:
                return AwardResult(existing, created=False)
            if daily_cap and ActivityAward.objects.filter(member=member, activity=activity, day=day).count() >= daily_cap:
                raise DailyCapReached()
            entry = points_post(
                account=locked, amount=points, kind=Kind.EARN, idempotency_key=idempotency_key,
                source=Source(channel=Channel.ACTIVITY, reason=reason, reference=reference or period_key,
                              details={"activity": activity, "period": period_key}),
                expires_at=lot_expiry(currency=currency, earned_at=now),
            )
            award = ActivityAward.objects.create(brand_id=member.brand_id, member=member, activity=activity,
                                                 period_key=period_key, day=day, points=entry.amount, entry=entry)
    except IntegrityError:
        existing = ActivityAward.objects.filter(member=member, activity=activity, period_key=period_key).first()
        if existing is None:
            raise
        return AwardResult(existing, created=False)
    return AwardResult(award, created=True)


def _award_by_rule(member: Member, activity: str, period_key: str, idempotency_key: str,
                   now: datetime | None = None) -> AwardResult | None:
    rule = activity_rule(brand_id=member.brand_id, activity=activity)
    if rule is None or rule.points <= 0 or member.status != Member.Status.ACTIVE:
        return None
    return activity_award(member=member, activity=activity, period_key=period_key, idempotency_key=idempotency_key,
                          points=rule.points, currency=_currency(rule, member.brand_id), daily_cap=rule.daily_cap,
                          now=now)


# --- registration and profile --------------------------------------------------------------


def registration_award(*, member_id: int) -> AwardResult | None:
    """Points for registering, once per member (``activity:registration:{member}``)."""
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        return None
    return _award_by_rule(member, Activity.REGISTRATION, "once", f"activity:registration:{member.pk}")


def profile_missing(*, member: Member) -> list[str]:
    """Profile fields (and the brand's required custom fields) the member has not filled."""
    missing = [name for name in PROFILE_REQUIRED if not getattr(member, name)]
    for field in profile_fields(brand=member.brand):
        if field.required and member.custom_fields.get(field.key) in (None, "", []):
            missing.append(f"custom:{field.key}")
    return missing


def profile_complete_award(*, member_id: int) -> AwardResult | None:
    """Points for a complete profile, once per member, when nothing is missing any more."""
    member = Member.objects.select_related("brand").filter(pk=member_id).first()
    if member is None or member.status != Member.Status.ACTIVE or profile_missing(member=member):
        return None
    return _award_by_rule(member, Activity.PROFILE_COMPLETE, "once", f"activity:profile_complete:{member.pk}")


# --- daily check-in ------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    award: ActivityAward
    created: bool
    streak: int
    next_check_in: datetime


def check_in_streak(*, member: Member, today: date) -> int:
    """Consecutive Bangkok days with a check-in, ending today (or yesterday when not yet today)."""
    days = list(ActivityAward.objects.filter(member=member, activity=Activity.CHECK_IN, day__lte=today,
                                             day__gte=today - timedelta(days=366))
                .order_by("-day").values_list("day", flat=True))
    expected = today if days and days[0] == today else today - timedelta(days=1)
    streak = 0
    for day in days:
        if day != expected:
            break
        streak += 1
        expected -= timedelta(days=1)
    return streak


def next_bangkok_midnight(now: datetime | None = None) -> datetime:
    return datetime.combine(bangkok_today(now) + timedelta(days=1), datetime.min.time(), tzinfo=BANGKOK)


def check_in(*, member: Member, now: datetime | None = None) -> CheckInResult:
    """Today's check-in, once per Bangkok day (``activity:checkin:{member}:{date}``).

    Raises ``ActivityUnavailable`` when the brand has no active check-in rule.
    """
    now = now or timezone.now()
    rule = activity_rule(brand_id=member.brand_id, activity=Activity.CHECK_IN)
    if rule is None or rule.points <= 0:
        raise ActivityUnavailable()
    today = bangkok_today(now)
    result = activity_award(member=member, activity=Activity.CHECK_IN, period_key=today.isoformat(),
                            idempotency_key=f"activity:checkin:{member.pk}:{today.isoformat()}",
                            points=rule.points, currency=_currency(rule, member.brand_id), now=now)
    if result.created:
        events.emit(events.CHECKED_IN, member_id=member.pk, award_id=result.award.pk, day=today.isoformat())
    return CheckInResult(result.award, result.created, check_in_streak(member=member, today=today),
                         next_bangkok_midnight(now))


def checked_in_today(*, member: Member, now: datetime | None = None) -> ActivityAward | None:
    return ActivityAward.objects.filter(member=member, activity=Activity.CHECK_IN,
                                        period_key=bangkok_today(now).isoformat()).first()


# --- birthdays -----------------------------------------------------------------------------


def birthday_members(*, rule: ActivityRule, today: date):
    """Ids of the rule's brand's active members due birthday points today and not yet given them this year.

    One query: on the day (29 February birthdays on 28 February in other years) or any day
    of the birth month, per the rule.
    """
    members = Member.objects.filter(brand_id=rule.brand_id, status=Member.Status.ACTIVE,
                                    birth_date__month=today.month)
    if rule.birthday_window == ActivityRule.BirthdayWindow.ON_THE_DAY:
        leap_day_today = today.month == 2 and today.day == 28 and not _is_leap(today.year)
        members = members.filter(birth_date__day__in=[28, 29] if leap_day_today else [today.day])
    given = ActivityAward.objects.filter(member=OuterRef("pk"), activity=Activity.BIRTHDAY,
                                         period_key=str(today.year))
    return members.filter(~Exists(given)).order_by("pk").values_list("pk", flat=True)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday_award(*, member_id: int, rule: ActivityRule, year: int, now: datetime | None = None) -> AwardResult | None:
    """Birthday points for one member, once per year (``activity:birthday:{member}:{year}``)."""
    member = Member.objects.filter(pk=member_id, brand_id=rule.brand_id, status=Member.Status.ACTIVE).first()
    if member is None:
        return None
    result = activity_award(member=member, activity=Activity.BIRTHDAY, period_key=str(year),
                            idempotency_key=f"activity:birthday:{member.pk}:{year}", points=rule.points,
                            currency=_currency(rule, rule.brand_id), daily_cap=rule.daily_cap, now=now)
    tier_birthday_award(member_id=member.pk, year=year, now=now)  # the tier's bonus comes with the birthday points
    return result


def birthday_rules():
    return ActivityRule.objects.filter(activity=Activity.BIRTHDAY, is_active=True, points__gt=0, brand__is_active=True)


def birthday_awards_run(*, today: date | None = None, now: datetime | None = None) -> int:
    """Award every member due birthday points today (all brands); returns how many were awarded.

    The members are selected per rule with one query; each award is its own short
    transaction (the Celery task splits the ids into batches across workers instead).
    """
    today = today or bangkok_today(now)
    awarded = 0
    for rule in birthday_rules().select_related("currency"):
        for member_id in list(birthday_members(rule=rule, today=today)):
            result = birthday_award(member_id=member_id, rule=rule, year=today.year, now=now)
            awarded += bool(result and result.created)
    return awarded + tier_birthday_awards_run(today=today, now=now)


# --- tier birthday bonus -------------------------------------------------------------------


def tier_birthday_key(member_id: int, year: int) -> str:
    return f"tier:birthday:{member_id}:{year}"


def tier_birthday_members(*, today: date):
    """Ids of active members of a tier with a birthday bonus whose birthday is today, not yet given it this year.

    One query (29 February birthdays on 28 February in other years); the ledger key
    ``tier:birthday:{member}:{year}`` marks who already had it.
    """
    days = [28, 29] if today.month == 2 and today.day == 28 and not _is_leap(today.year) else [today.day]
    given = LedgerEntry.objects.filter(
        brand_id=OuterRef("brand_id"),
        idempotency_key=Concat(Value("tier:birthday:"), Cast(OuterRef("pk"), CharField()), Value(f":{today.year}")))
    return (Member.objects.filter(status=Member.Status.ACTIVE, birth_date__month=today.month, birth_date__day__in=days,
                                  tier_status__tier__birthday_bonus__gt=0)
            .filter(~Exists(given)).order_by("pk").values_list("pk", flat=True))


def tier_birthday_award(*, member_id: int, year: int, now: datetime | None = None) -> LedgerEntry | None:
    """The member's tier birthday bonus (``tier.birthday_bonus`` points, default currency), once per year.

    Written through ``points_post`` under ``tier:birthday:{member}:{year}`` (channel
    activity), so replays and concurrent runs write one entry. Returns the entry written
    now, or None (no bonus, not active, or already given).
    """
    member = Member.objects.filter(pk=member_id, status=Member.Status.ACTIVE).select_related(
        "tier_status__tier").first()
    tier = getattr(getattr(member, "tier_status", None), "tier", None) if member else None
    if tier is None or tier.birthday_bonus <= 0:
        return None
    key = tier_birthday_key(member.pk, year)
    if LedgerEntry.objects.filter(brand_id=member.brand_id, idempotency_key=key).exists():
        return None
    now = now or timezone.now()
    currency = PointCurrency.objects.get(brand_id=member.brand_id, is_default=True)
    account = account_get_or_create(member=member, currency=currency)
    return points_post(account=account, amount=int(tier.birthday_bonus), kind=Kind.EARN, idempotency_key=key,
                       source=Source(channel=Channel.ACTIVITY, reason="Tier birthday bonus", reference=tier.code,
                                     details={"tier": tier.code, "year": year}),
                       expires_at=lot_expiry(currency=currency, earned_at=now))


def tier_birthday_awards_run(*, today: date | None = None, now: datetime | None = None) -> int:
    """Give today's tier birthday bonuses (all brands); returns how many were given."""
    today = today or bangkok_today(now)
    given = 0
    for member_id in list(tier_birthday_members(today=today)):
        given += tier_birthday_award(member_id=member_id, year=today.year, now=now) is not None
    return given


# --- surveys -------------------------------------------------------------------------------


def surveys_open(*, brand_id: int, now: datetime | None = None):
    now = now or timezone.now()
    return (Survey.objects.filter(brand_id=brand_id, is_active=True)
            .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now)).order_by("-created_at"))


@dataclass(frozen=True)
class SurveyResult:
    response: SurveyResponse
    created: bool
    points: int
    capped: bool = False


def survey_submit(*, survey_id: int, member: Member, answers: dict, now: datetime | None = None) -> SurveyResult:
    """Record the member's one answer to an open survey and its points once.

    The response row (unique per survey and member) and the award are written in one
    transaction; a second submission returns the first response. Survey points are
    paid unless the brand's survey rule is switched off, and within its daily cap (the
    answer is kept without points when the cap is reached). Raises ``SurveyNotFound``
    and ``ValidationFailed`` (``q_<key>`` fields).
    """
    now = now or timezone.now()
    survey = surveys_open(brand_id=member.brand_id, now=now).filter(pk=survey_id).first()
    if survey is None or member.status != Member.Status.ACTIVE:
        raise SurveyNotFound()
    previous = SurveyResponse.objects.filter(survey=survey, member=member).first()
    if previous is not None:
        return SurveyResult(previous, created=False, points=previous.points)
    cleaned, errors = answers_clean(survey.questions, answers)
    if errors:
        raise ValidationFailed(fields=errors)
    rule = ActivityRule.objects.filter(brand_id=member.brand_id, activity=Activity.SURVEY).select_related(
        "currency").first()
    pays = survey.points > 0 and (rule is None or rule.is_active)
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(survey=survey, member=member, answers=cleaned)
            events.emit(events.SURVEY_COMPLETED, member_id=member.pk, survey_id=survey.pk, response_id=response.pk)
            capped = False
            if pays:
                try:
                    with transaction.atomic():
                        result = activity_award(
                            member=member, activity=Activity.SURVEY, period_key=f"survey:{survey.pk}",
                            idempotency_key=f"activity:survey:{survey.pk}:{member.pk}", points=survey.points,
                            currency=_currency(rule, member.brand_id), daily_cap=rule.daily_cap if rule else None,
                            now=now, reference=survey.title[:200])
                    response.points = result.award.points
                    response.save(update_fields=["points"])
                except DailyCapReached:
                    capped = True
    except IntegrityError:
        previous = SurveyResponse.objects.filter(survey=survey, member=member).first()
        if previous is None:
            raise
        return SurveyResult(previous, created=False, points=previous.points)
    return SurveyResult(response, created=True, points=response.points, capped=capped)
