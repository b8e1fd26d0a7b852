"""Domain events raised by loyalty services for other apps (campaigns, messaging).

``loyalty`` never imports its subscribers; they register with ``subscribe``. Events are
delivered after the transaction that raised them commits (``on_commit``), with ids
only, so a subscriber never sees something that was rolled back.
"""

from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

PURCHASE_RECORDED = "purchase_recorded"
PURCHASE_REFUNDED = "purchase_refunded"
POINTS_POSTED = "points_posted"
REWARD_REDEEMED = "reward_redeemed"
COUPON_USED = "coupon_used"
COUPON_ISSUED = "coupon_issued"  # coupon_id, member_id, key: a coupon given without a redemption
MEMBER_REGISTERED = "member_registered"
CHECKED_IN = "checked_in"  # member_id, award_id, day (ISO Bangkok date): a daily check-in that counted
SURVEY_COMPLETED = "survey_completed"  # member_id, survey_id, response_id
PROFILE_UPDATED = "profile_updated"

_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str) -> Callable:
    def register(handler: Callable[..., None]) -> Callable[..., None]:
        _subscribers[event].append(handler)
        return handler

    return register


def emit(event: str, **payload) -> None:
    """Deliver ``event`` to its subscribers once the current transaction commits."""

    def deliver() -> None:
        for handler in list(_subscribers[event]):
            handler(**payload)

    transaction.on_commit(deliver)
