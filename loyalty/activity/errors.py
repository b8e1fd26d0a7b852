from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound


class ActivityUnavailable(DomainError):
    code = "activity_unavailable"
    message = _("This activity does not give points at the moment.")


class DailyCapReached(Conflict):
    code = "activity_daily_cap"
    message = _("You reached today's limit for this activity. Come back tomorrow!")


class SurveyNotFound(NotFound):
    code = "survey_not_found"
    message = _("This survey is not open.")
