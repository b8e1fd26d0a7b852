"""Domain errors of missions, reviews and referrals (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, ValidationFailed


class MissionStateInvalid(Conflict):
    code = "mission_state_invalid"
    message = _("The mission cannot move to that status from its current one.")


class MissionHasNoObjectives(ValidationFailed):
    code = "mission_has_no_objectives"
    message = _("Add at least one objective before publishing the mission.")


class ReviewNotAllowed(DomainError):
    code = "review_not_allowed"
    message = _("You can review only products you bought.")


class ReviewAlreadyWritten(Conflict):
    code = "review_already_written"
    message = _("You already reviewed this product.")


class ReviewAlreadyModerated(Conflict):
    code = "review_already_moderated"
    message = _("This review was already moderated.")
