"""The dashboard, member 360° page and exports in the admin: brand scoping, figures, files."""

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.urls import reverse

from campaigns.analytics.facts import facts_rebuild
from campaigns.analytics.models import ReportExport
from campaigns.analytics.reports import ExportBranchNotFound, report_export_build, report_export_create
from tests import factories

URL = "/admin/analytics/dashboard/"


@pytest.fixture
def staff(march):
    return factories.staff_user(brands=[march["brand"]], username="acme-manager")


def test_dashboard_shows_the_brands_kpis(client, march, staff):
    facts_rebuild(start=date(2025, 2, 1), end=date(2025, 3, 31))
    client.force_login(staff)
    response = client.get(URL, {"brand": march["brand"].pk, "period": "custom", "start": "2025-03-01",
                                "end": "2025-03-31"})
    assert response.status_code == 200
    rows = {row["key"]: row for row in response.context["kpi_rows"]}
    assert rows["active_members"]["value"] == 3 and str(rows["repeat_rate"]["value"]) == "33.33"
    assert str(rows["redemption_rate"]["value"]) == "27.78"
    html = response.content.decode()
    assert 'data-chart="members"' in html and "dist/dashboard.js" in html and 'id="dashboard-data"' in html
    assert "Not computed yet." in html  # no RFM statistics in this data


def test_staff_cannot_pick_another_brand(client, march, staff):
    client.force_login(staff)
    assert client.get(URL, {"brand": march["other"].pk, "period": "this_month"}).status_code == 404
    response = client.get(URL)
    assert response.context["brand"] == march["brand"]
    assert list(response.context["form"].fields["brand"].queryset) == [march["brand"]]


def test_admin_index_links_the_dashboard(client, staff):
    client.force_login(staff)
    assert URL in client.get("/admin/").content.decode()


def test_member_360_page_and_its_scoping(client, march, staff):
    a, _b, _c, d = march["members"]
    client.force_login(staff)
    response = client.get(reverse("admin:analytics_member", args=[a.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert a.code in html and "Free latte" in html and "A-2" in html
    assert response.context["accounts"][0].balance == 14
    assert client.get(reverse("admin:analytics_member", args=[d.pk])).status_code == 404
    change = client.get(reverse("admin:members_member_change", args=[a.pk])).content.decode()
    assert reverse("admin:analytics_member", args=[a.pk]) in change


def read_csv(export):
    export.file.open("rb")
    text = export.file.read().decode("utf-8-sig")
    export.file.close()
    return list(csv.reader(io.StringIO(text)))


def test_purchase_export_csv_with_filters(march, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        export = report_export_create(brand=march["brand"], requested_by=staff, kind="purchases",
                                      date_from=date(2025, 3, 1), date_to=date(2025, 3, 15))
    export.refresh_from_db()
    assert export.status == "done" and export.written == 3 and export.percent == 100
    rows = read_csv(export)
    assert rows[0][:3] == ["purchase_id", "purchased_at", "member_code"]
    assert [row[5] for row in rows[1:]] == ["A-1", "B-1", "A-2"]  # not C-1 (20 Mar), never D-1 (other brand)
    assert rows[2][1] == "2025-03-10T23:00:00+07:00"
    branch = report_export_build(export_id=report_export_create(
        brand=march["brand"], requested_by=staff, kind="purchases", branch=march["branch"]).pk)
    assert [row[5] for row in read_csv(branch)[1:]] == ["A-1", "B-1", "C-1"]


def test_other_exports_and_xlsx(march, staff):
    def build(**kwargs):
        return report_export_build(export_id=report_export_create(brand=march["brand"], requested_by=staff,
                                                                  **kwargs).pk)

    members = read_csv(build(kind="members", date_from=date(2025, 3, 1), date_to=date(2025, 3, 31)))
    assert sorted(row[1] for row in members[1:]) == sorted([march["members"][0].code, march["members"][2].code])
    ledger = read_csv(build(kind="ledger", channel="pos"))
    assert sorted(int(row[6]) for row in ledger[1:]) == [2, 4, 10, 20]
    redemptions = read_csv(build(kind="redemptions"))
    assert len(redemptions) == 2 and redemptions[1][3] == "Free latte" and redemptions[1][4] == "10"
    assert read_csv(build(kind="campaigns"))[0][0] == "campaign_type"
    xlsx = build(kind="purchases", format="xlsx")
    with xlsx.file.open("rb") as handle:
        sheet = openpyxl.load_workbook(io.BytesIO(handle.read())).active
    values = list(sheet.values)
    assert values[0][0] == "purchase_id" and len(values) == 5 and {row[5] for row in values[1:]} == {
        "A-1", "B-1", "A-2", "C-1"}


def test_exports_are_brand_scoped(client, march, staff, django_capture_on_commit_callbacks):
    other_export = ReportExport.objects.create(brand=march["other"], kind="members")
    with pytest.raises(ExportBranchNotFound):
        report_export_create(brand=march["other"], requested_by=staff, kind="purchases", branch=march["branch"])
    client.force_login(staff)
    assert client.get(reverse("admin:analytics_export_progress", args=[other_export.pk])).status_code == 404
    response = client.post(reverse("admin:analytics_exports"), {"brand": march["other"].pk, "kind": "members",
                                                                  "format": "csv"})
    assert response.status_code == 200 and "brand" in response.context["form"].errors
    assert ReportExport.objects.filter(brand=march["other"]).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:analytics_exports"), {"brand": march["brand"].pk, "kind": "members",
                                                                      "format": "csv"})
    assert response.status_code == 302
    export = ReportExport.objects.get(brand=march["brand"])
    progress = client.get(reverse("admin:analytics_export_progress", args=[export.pk])).json()
    assert progress["status"] == "done" and progress["download_url"]
    download = client.get(progress["download_url"])
    assert download.status_code == 200 and b"member_id" in b"".join(download.streaming_content)


def test_export_progress_is_not_cached_and_a_csv_is_served_as_utf8(client, march, staff):
    client.force_login(staff)
    export = ReportExport.objects.create(brand=march["brand"], requested_by=staff, kind="members")
    english = {"Accept-Language": "en"}
    html = client.get(reverse("admin:analytics_exports"), headers=english).content.decode()
    assert f'data-progress-url="{reverse("admin:analytics_export_progress", args=[export.pk])}"' in html
    assert "Members (CSV)" in html and "members/export_jobs.js" in html
    queued = client.get(reverse("admin:analytics_export_progress", args=[export.pk]), headers=english)
    assert "no-store" in queued["Cache-Control"]
    assert (queued.json()["status_display"], queued.json()["download_url"]) == ("Queued", None)
    report_export_build(export_id=export.pk)
    done = client.get(reverse("admin:analytics_export_progress", args=[export.pk]), headers=english).json()
    assert (done["status"], done["status_display"], done["percent"]) == ("done", "Done", 100)
    download = client.get(done["download_url"])
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(download.streaming_content).decode("utf-8").startswith("\ufeffmember_id,code,")
