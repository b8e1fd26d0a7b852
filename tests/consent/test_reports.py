"""Reports: the CSV export of the log (filters, Celery build, progress, download) and the status summary."""

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from consent.models import ConsentExport
from consent.reports import consent_export_build, consent_export_create
from consent.selectors import consent_status_summary
from tests import factories

from .conftest import grant, publish
from .test_data_export import staff_client

pytestmark = pytest.mark.django_db
BANGKOK = ZoneInfo("Asia/Bangkok")
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def history(brand, docs):
    """Two members' decisions over March and April 2026 (Bangkok), on marketing v1 and v2."""
    malee, somchai = (factories.MemberFactory(brand=brand, code="MALEE001"),
                      factories.MemberFactory(brand=brand, code="SOMCH001"))
    with time_machine.travel(datetime(2026, 3, 31, 23, 30, tzinfo=BANGKOK), tick=False):
        grant(malee, docs.terms)                       # 31 March, Bangkok
        grant(malee, docs.marketing)
    with time_machine.travel(datetime(2026, 4, 1, 0, 10, tzinfo=BANGKOK), tick=False):
        grant(somchai, docs.terms)                     # 1 April, Bangkok (still 31 March in UTC)
        grant(somchai, docs.marketing, False)
    with time_machine.travel(datetime(2026, 4, 15, 9, 0, tzinfo=BANGKOK), tick=False):
        marketing_v2 = publish(docs.marketing.document, 2)
        grant(malee, marketing_v2, False)              # withdrew on v2
        grant(somchai, marketing_v2)                   # granted on v2
    return {"malee": malee, "somchai": somchai, "marketing_v2": marketing_v2}


def build(brand, user, django_capture_on_commit_callbacks, **filters) -> list[list[str]]:
    with django_capture_on_commit_callbacks(execute=True):  # the Celery task runs after commit (eager here)
        export = consent_export_create(brand=brand, requested_by=user, **filters)
    export.refresh_from_db()
    assert export.status == ConsentExport.Status.DONE
    text = export.file.open("rb").read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["record_id", "created_at", "member_id"]
    assert export.written == export.total == len(rows) - 1
    return rows[1:]


def summary(rows):
    return [(row[3], row[4], row[6], row[7]) for row in rows]  # member code, kind, version, status


def test_csv_export_filters_by_bangkok_period_kind_version_and_status(brand, history, docs,
                                                                      django_capture_on_commit_callbacks):
    user = factories.staff_user(brands=[brand], username="reports")
    everything = build(brand, user, django_capture_on_commit_callbacks)
    assert summary(everything) == [
        ("MALEE001", "terms", "1", "granted"), ("MALEE001", "marketing", "1", "granted"),
        ("SOMCH001", "terms", "1", "granted"), ("SOMCH001", "marketing", "1", "withdrawn"),
        ("MALEE001", "marketing", "2", "withdrawn"), ("SOMCH001", "marketing", "2", "granted")]
    assert everything[0][1] == "2026-03-31T23:30:00+07:00"
    march = build(brand, user, django_capture_on_commit_callbacks, date_from=date(2026, 3, 1),
                  date_to=date(2026, 3, 31))
    assert [row[3] for row in march] == ["MALEE001", "MALEE001"]  # 00:10 on 1 April Bangkok is April
    april_marketing = build(brand, user, django_capture_on_commit_callbacks, date_from=date(2026, 4, 1), kind="marketing")
    assert summary(april_marketing) == [("SOMCH001", "marketing", "1", "withdrawn"),
                                        ("MALEE001", "marketing", "2", "withdrawn"),
                                        ("SOMCH001", "marketing", "2", "granted")]
    v2_granted = build(brand, user, django_capture_on_commit_callbacks, version=history["marketing_v2"],
                       decision="granted")
    assert summary(v2_granted) == [("SOMCH001", "marketing", "2", "granted")]
    withdrawn = build(brand, user, django_capture_on_commit_callbacks, decision="withdrawn")
    assert len(withdrawn) == 2


def test_the_export_page_starts_a_build_and_progress_and_download_follow(brand, history, other_docs, other_brand,
                                                                         django_capture_on_commit_callbacks):
    client, _user = staff_client(brand)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("admin:consent_exports"), {"brand": brand.pk, "kind": "marketing",
                                                                  "decision": ""})
    assert response.status_code == 302
    export = ConsentExport.objects.get()
    progress = client.get(reverse("admin:consent_export_progress", args=[export.pk])).json()
    assert (progress["status"], progress["percent"], progress["download_url"]) == ("queued", 0, None)
    assert client.get(reverse("admin:consent_export_download", args=[export.pk])).status_code == 404
    for callback in queued:
        callback()  # the worker
    progress = client.get(reverse("admin:consent_export_progress", args=[export.pk])).json()
    assert (progress["status"], progress["percent"], progress["written"], progress["total"]) == ("done", 100, 4, 4)
    download = client.get(progress["download_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert b"".join(download.streaming_content).decode("utf-8-sig").count("\n") == 5
    page = client.get(reverse("admin:consent_exports")).content.decode()
    assert "<progress" in page and progress["download_url"] in page
    # Another brand's version cannot be chosen, and its exports are not visible.
    refused = client.post(reverse("admin:consent_exports"), {"brand": brand.pk,
                                                             "version": other_docs.marketing.pk})
    assert refused.status_code == 200 and ConsentExport.objects.count() == 1
    other_client, _other = staff_client(other_brand, username="other-reports")
    assert other_client.get(reverse("admin:consent_export_progress", args=[export.pk])).status_code == 404


def test_progress_is_written_while_a_large_export_runs(brand, docs, monkeypatch):
    from consent import reports

    monkeypatch.setattr(reports, "PROGRESS_EVERY", 2)
    seen = []
    real_filter = ConsentExport.objects.filter

    for index in range(5):
        grant(factories.MemberFactory(brand=brand), docs.marketing, index % 2 == 0)
    export = ConsentExport.objects.create(brand=brand, requested_by=factories.staff_user(brands=[brand]))

    def spy(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        seen.append(ConsentExport.objects.values_list("written", flat=True).get(pk=export.pk))
        return queryset

    monkeypatch.setattr(ConsentExport.objects, "filter", spy)
    built = consent_export_build(export_id=export.pk)
    assert (built.status, built.written, built.total) == ("done", 5, 5)
    assert {2, 4} <= set(seen)  # progress after every 2 rows, then done


def test_the_summary_counts_current_decisions_per_version_in_one_query(brand, history, docs,
                                                                       django_assert_num_queries):
    with django_assert_num_queries(2):
        rows = consent_status_summary(brand=brand)
    assert [(row["document"].kind, row["version"].version, row["granted"], row["withdrawn"]) for row in rows] == [
        ("terms", 1, 2, 0), ("privacy", 1, 0, 0), ("marketing", 2, 1, 1), ("marketing", 1, 0, 0)]


def test_the_summary_page_shows_the_counts(brand, history):
    client, _user = staff_client(brand)
    response = client.get(reverse("admin:consent_summary"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-version="{history["marketing_v2"].pk}"' in html


def test_a_build_that_fails_is_marked_failed_with_its_error_and_a_retry_starts_over(brand, history, monkeypatch):
    from consent import reports

    export = ConsentExport.objects.create(brand=brand, requested_by=factories.staff_user(brands=[brand]))
    real_row = reports.csv_row
    calls = []

    def failing_row(record):
        calls.append(record.pk)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_row(record)

    monkeypatch.setattr(reports, "csv_row", failing_row)
    with pytest.raises(OSError, match="disk full"):
        consent_export_build(export_id=export.pk)
    export.refresh_from_db()
    assert (export.status, export.error, export.total, export.file.name) == ("failed", "disk full", 6, "")
    client, _user = staff_client(brand)
    progress = client.get(reverse("admin:consent_export_progress", args=[export.pk]), headers=ENGLISH)
    assert "no-store" in progress["Cache-Control"]
    assert progress.json() | {"id": 0} == {"id": 0, "status": "failed", "status_display": "Failed", "total": 6,
                                           "written": 0, "percent": 0, "error": "disk full", "download_url": None}
    assert client.get(reverse("admin:consent_export_download", args=[export.pk])).status_code == 404
    monkeypatch.setattr(reports, "csv_row", real_row)  # the task's retry
    built = consent_export_build(export_id=export.pk)
    assert (built.status, built.error, built.written, built.total) == ("done", "", 6, 6)


def test_the_export_page_lists_jobs_in_the_shared_table(brand, history):
    client, user = staff_client(brand)
    export = ConsentExport.objects.create(brand=brand, requested_by=user, kind="marketing", decision="granted")
    html = client.get(reverse("admin:consent_exports"), headers=ENGLISH).content.decode()
    progress_url = reverse("admin:consent_export_progress", args=[export.pk])
    assert f'data-export="{export.pk}" data-progress-url="{progress_url}" data-status="queued"' in html
    assert "… – … · Marketing consent · Granted" in html and "0/0 · Queued" in html
    assert "members/export_jobs.js" in html
