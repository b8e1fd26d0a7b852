"""Domain errors of broadcasts (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, ValidationFailed


class BroadcastStateInvalid(Conflict):
    code = "broadcast_state_invalid"
    message = _("This broadcast cannot do that in its current status.")


class BroadcastInvalid(ValidationFailed):
    code = "broadcast_invalid"
    message = _("This broadcast is not ready to send.")


class TestSendTargetMissing(ValidationFailed):
    code = "broadcast_test_target_missing"
    message = _("Choose a member or enter a LINE user ID for the test.")
