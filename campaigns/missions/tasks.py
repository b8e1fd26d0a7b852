"""Missions: Celery tasks. Thin, idempotent, ids only; services are imported inside the bodies."""

from celery import shared_task


@shared_task(acks_late=True)
def progress_from_purchase(purchase_id: int) -> None:
    from .services import purchase_progress

    purchase_progress(purchase_id=purchase_id)


@shared_task(acks_late=True)
def progress_from_refund(purchase_id: int, refund_id: int) -> None:
    from .services import purchase_refund_progress

    purchase_refund_progress(purchase_id=purchase_id, refund_id=refund_id)


@shared_task(acks_late=True)
def progress_from_review(review_id: int) -> None:
    from .services import review_progress

    review_progress(review_id=review_id)


@shared_task(acks_late=True)
def progress_from_survey(member_id: int, survey_id: int, response_id: int) -> None:
    from .services import survey_progress

    survey_progress(member_id=member_id, survey_id=survey_id, response_id=response_id)


@shared_task(acks_late=True)
def progress_from_check_in(member_id: int, award_id: int) -> None:
    from .services import check_in_progress

    check_in_progress(member_id=member_id, award_id=award_id)


@shared_task(acks_late=True)
def progress_from_referral(referral_id: int) -> None:
    from .services import referral_progress

    referral_progress(referral_id=referral_id)


@shared_task(acks_late=True)
def notify_completed(progress_id: int) -> None:
    """Tell the member on LINE, once per attempt (the outbox dedupes on the completion key)."""
    from messaging.outbox import message_push

    from .flex import mission_completed
    from .models import MissionProgress

    progress = (MissionProgress.objects.select_related("member__brand", "mission", "points_entry", "coupon__reward")
                .filter(pk=progress_id, completed_at__isnull=False).first())
    if progress is None or not progress.member.line_user_id:
        return
    template, messages = mission_completed(progress)
    message_push(member=progress.member, template=template, messages=messages,
                 dedupe_key=progress.completion_key())
