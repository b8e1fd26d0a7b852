"""Consent reports: CSV exports of the consent log (Celery, with progress) and the status summary.

``consent_export_create`` records the request (filters, who) and queues
``consent.tasks.consent_export_build`` after commit; ``consent_export_build`` writes the CSV
in chunks, updating ``written`` every ``PROGRESS_EVERY`` rows (the admin polls it), and
stores the file through Django's default storage. Idempotent: a finished export is not
built again; a retried one starts over from a fresh temporary file.

Periods are Bangkok dates (``date_from`` 00:00 to the end of ``date_to``), the way staff
think of "the records of March".
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from config.exports import export_job_write
from members.models import Brand

from .errors import ConsentVersionNotFound
from .models import ConsentExport, ConsentRecord, ConsentVersion
from .selectors import consent_history

BANGKOK = ZoneInfo("Asia/Bangkok")
PROGRESS_EVERY = 1000
CHUNK = 2000
HEADER = ["record_id", "created_at", "member_id", "member_code", "document_kind", "document", "version",
          "status", "channel", "staff_user", "reason", "ip", "user_agent"]


def bangkok_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=BANGKOK) if day else None


def export_records(export: ConsentExport):
    """The records an export covers (its filters applied to its brand's log)."""
    granted = {ConsentExport.Decision.GRANTED: True, ConsentExport.Decision.WITHDRAWN: False}.get(export.decision)
    return consent_history(
        brand=export.brand, start=bangkok_start(export.date_from),
        end=bangkok_start(export.date_to + timedelta(days=1)) if export.date_to else None,
        kind=export.kind, version_id=export.version_id, granted=granted)


def csv_row(record: ConsentRecord) -> list:
    return [record.pk, timezone.localtime(record.created_at, BANGKOK).isoformat(), record.member_id,
            record.member.code, record.document.kind, record.document.title_en or record.document.title_th,
            record.version.version, "granted" if record.granted else "withdrawn", record.channel,
            record.staff_user.get_username() if record.staff_user else "", record.reason, record.ip or "",
            record.user_agent]


def consent_export_create(*, brand: Brand, requested_by, date_from: date | None = None, date_to: date | None = None,
                          kind: str = "", version: ConsentVersion | None = None, decision: str = "") -> ConsentExport:
    """Record an export request and queue its build after commit. The version must be the brand's."""
    if version is not None and version.document.brand_id != brand.pk:
        raise ConsentVersionNotFound()
    with transaction.atomic():
        export = ConsentExport.objects.create(brand=brand, requested_by=requested_by, date_from=date_from,
                                              date_to=date_to, kind=kind, version=version, decision=decision)

        def queue():
            from .tasks import consent_export_build

            consent_export_build.delay(export.pk)

        transaction.on_commit(queue)
    return export


def consent_export_build(*, export_id: int) -> ConsentExport:
    """Write the export's CSV (UTF-8 with BOM, so Excel shows Thai) and store it.

    A finished export is returned as is; a retried or re-run one is rebuilt from the start
    (``config.exports.export_job_write``: the file name carries the time, so a half-written
    file is never served).
    """
    export = ConsentExport.objects.select_related("brand").get(pk=export_id)
    if export.status == ConsentExport.Status.DONE:
        return export
    records = export_records(export)
    total = records.count()
    rows = (csv_row(record) for record in
            records.select_related("member", "document", "version", "staff_user").iterator(chunk_size=CHUNK))
    stamp = timezone.localtime(timezone.now(), BANGKOK).strftime("%Y%m%d-%H%M%S")
    return export_job_write(export, total=total, rows=rows, header=HEADER, progress_every=PROGRESS_EVERY,
                            filename=f"consent-log-{export.brand.slug}-{export.pk}-{stamp}.csv")
