"""Missions: domain-event subscribers (registered in ``MissionsConfig.ready``).

Events arrive after the source's transaction committed. Purchases and refunds are handled
in a Celery worker (``loyalty.events``, ``in_worker``: one task per purchase for all its
subscribers; a failure is retried on its own); the others each queue one Celery task (eager
where no broker is set). A failure to enqueue is logged, never raised into the check-in or
registration that already committed.
"""

import logging

from loyalty import events

from . import tasks
from .events import MISSION_COMPLETED, REFERRAL_RECORDED, REVIEW_PUBLISHED

log = logging.getLogger(__name__)


def _queue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - the source already committed; the event is logged for a replay
        log.exception("missions: %s%r failed", task.name, args)


@events.subscribe(events.PURCHASE_RECORDED, in_worker=True)
def on_purchase_recorded(*, purchase_id: int, **_payload) -> None:
    tasks.progress_from_purchase(purchase_id)


@events.subscribe(events.PURCHASE_REFUNDED, in_worker=True)
def on_purchase_refunded(*, purchase_id: int, refund_id: int, **_payload) -> None:
    tasks.progress_from_refund(purchase_id, refund_id)


@events.subscribe(REVIEW_PUBLISHED)
def on_review_published(*, review_id: int, **_payload) -> None:
    _queue(tasks.progress_from_review, review_id)


@events.subscribe(events.SURVEY_COMPLETED)
def on_survey_completed(*, member_id: int, survey_id: int, response_id: int, **_payload) -> None:
    _queue(tasks.progress_from_survey, member_id, survey_id, response_id)


@events.subscribe(events.CHECKED_IN)
def on_checked_in(*, member_id: int, award_id: int, **_payload) -> None:
    _queue(tasks.progress_from_check_in, member_id, award_id)


@events.subscribe(REFERRAL_RECORDED)
def on_referral_recorded(*, referral_id: int, **_payload) -> None:
    _queue(tasks.progress_from_referral, referral_id)


@events.subscribe(MISSION_COMPLETED)
def on_mission_completed(*, progress_id: int, **_payload) -> None:
    _queue(tasks.notify_completed, progress_id)
