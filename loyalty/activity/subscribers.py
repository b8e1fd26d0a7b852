"""Domain-event subscribers of the activity app (registered in ``ActivityConfig.ready``).

Events arrive after the member's transaction committed; the award runs in a Celery task,
and a failure to enqueue is logged rather than breaking the registration or profile save.
"""

import logging

from loyalty import events

log = logging.getLogger(__name__)


@events.subscribe(events.MEMBER_REGISTERED)
def award_on_registration(*, member_id: int, **_payload) -> None:
    from .tasks import award_registration

    try:
        award_registration.delay(member_id)
    except Exception:  # noqa: BLE001 - the registration already committed
        log.exception("activity points on registration of member %s failed", member_id)


@events.subscribe(events.PROFILE_UPDATED)
def award_on_profile_update(*, member_id: int, **_payload) -> None:
    from .tasks import award_profile_complete

    try:
        award_profile_complete.delay(member_id)
    except Exception:  # noqa: BLE001 - the profile change already committed
        log.exception("profile points of member %s failed", member_id)
