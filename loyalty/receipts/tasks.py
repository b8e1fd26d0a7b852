"""Celery task: read one receipt (OCR) and decide it. Thin, idempotent, retried on OCR outages only."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def process_receipt(self, receipt_id: int) -> None:
    from .ocr import OcrUnavailable
    from .services import receipt_process

    # Eagerly (no broker) there is no later attempt: the receipt goes to staff if OCR cannot run.
    final = self.request.is_eager or self.request.retries >= MAX_RETRIES
    try:
        receipt_process(receipt_id=receipt_id, final_attempt=final)
    except OcrUnavailable as error:
        logger.warning("receipt %s: OCR unavailable (%s); retrying", receipt_id, error)
        raise self.retry(exc=error, countdown=min(30 * 2 ** self.request.retries, 900)) from error
