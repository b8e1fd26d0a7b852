"""Staff export jobs: a CSV/XLSX file built by a Celery task, its progress polled by an admin page.

Shared by the consent-log export (``consent.ConsentExport``) and the report exports
(``campaigns.analytics.ReportExport``), which differ only in their filters and rows:

- ``ExportJob`` is their abstract base: the status choices and ``percent``. It declares no
  field: the job fields (``status``, ``total``, ``written``, ``file``, ``error``,
  ``finished_at``, ``updated_at``) stay on each model, where their labels and types differ
  slightly, so the tables and migrations are unchanged. The helpers below rely on them.
- ``export_job_write`` is the build: mark running with the row count, write the rows into a
  temporary file (CSV in UTF-8 with a BOM so Excel shows Thai, or XLSX), record ``written``
  every ``progress_every`` rows, store the file through the default storage, mark done; on
  any error mark failed with the message and re-raise (the task's retry starts over, and
  the file name carries the time, so a half-written file is never served).
- ``export_job_progress`` and ``export_job_download`` are the two admin views' responses
  (the JSON the page polls, the file).
- The page part is ``members/templates/admin/export_jobs/_table.html`` (the jobs table,
  included by both export pages) and ``members/static/members/export_jobs.js`` (polls every
  queued or running row until it is done, then shows the download link).
"""

import csv
import tempfile
from collections.abc import Iterable, Sequence

from django.core.files import File
from django.db import models
from django.http import FileResponse, Http404, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    """Abstract base of export job rows. Subclasses declare ``status`` with ``ExportJob.Status.choices``,
    ``total``, ``written``, ``file``, ``error``, ``finished_at`` and ``updated_at``."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.written * 100 / self.total) if self.total else 0


class _TextWriter:
    """A minimal text wrapper for csv.writer over a binary temporary file (UTF-8)."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text: str) -> int:
        return self.handle.write(text.encode("utf-8"))


def export_job_write(job: ExportJob, *, total: int, rows: Iterable[Sequence], header: Sequence[str],
                     filename: str, progress_every: int, xlsx_sheet: str = "") -> ExportJob:
    """Write ``rows`` under ``header`` into the job's file and record its progress; returns the job, done.

    ``total`` is the expected row count (shown while it runs); ``xlsx_sheet`` makes an XLSX
    workbook with one sheet of that title instead of a CSV. The job row is changed with
    ``UPDATE``s by primary key only, so the page polling it never waits on a lock.
    """
    model = type(job)
    jobs = model.objects
    jobs.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, total=total, written=0, error="",
                                  updated_at=timezone.now())
    written = 0

    def counted(source):
        nonlocal written
        for row in source:
            yield row
            written += 1
            if written % progress_every == 0:
                jobs.filter(pk=job.pk).update(written=written, updated_at=timezone.now())

    try:
        with tempfile.TemporaryFile("w+b") as handle:
            if xlsx_sheet:
                from openpyxl import Workbook

                book = Workbook(write_only=True)
                sheet = book.create_sheet(xlsx_sheet[:31])
                sheet.append(list(header))
                for row in counted(rows):
                    sheet.append([value if isinstance(value, (int, float, bool)) else str(value) for value in row])
                book.save(handle)
            else:
                text = _TextWriter(handle)
                writer = csv.writer(text)
                text.write("\ufeff")
                writer.writerow(header)
                for row in counted(rows):
                    writer.writerow(row)
            handle.seek(0)
            job.file.save(filename, File(handle), save=False)
    except Exception as error:
        jobs.filter(pk=job.pk).update(status=ExportJob.Status.FAILED, error=str(error)[:2000],
                                      updated_at=timezone.now())
        raise
    jobs.filter(pk=job.pk).update(status=ExportJob.Status.DONE, written=written, total=max(total, written),
                                  file=job.file.name, finished_at=timezone.now(), updated_at=timezone.now())
    job.refresh_from_db()
    return job


def export_job_progress(job: ExportJob, *, download_url_name: str) -> JsonResponse:
    """What the export page polls: status (code and label), counts, percent, error, and the file's URL once done."""
    return JsonResponse({
        "id": job.pk, "status": job.status, "status_display": str(job.get_status_display()),
        "total": job.total, "written": job.written, "percent": job.percent, "error": job.error,
        "download_url": reverse(download_url_name, args=[job.pk]) if job.status == ExportJob.Status.DONE else None,
    }, headers={"Cache-Control": "no-store"})


def export_job_download(job: ExportJob) -> FileResponse:
    """The finished file as an attachment (a CSV as ``text/csv; charset=utf-8``); 404 until it is done."""
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    filename = job.file.name.rsplit("/", 1)[-1]
    content_type = "text/csv; charset=utf-8" if filename.endswith(".csv") else None
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=filename, content_type=content_type)
