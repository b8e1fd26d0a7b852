"""Domain errors of the top spender races (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict


class RaceNotDraft(Conflict):
    code = "race_not_draft"
    message = _("Only a draft race can be started.")


class RaceAlreadyEnded(Conflict):
    code = "race_already_ended"
    message = _("The race's period has already ended.")
