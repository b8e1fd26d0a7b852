"""The staff dashboard, the member 360° page and report exports, in the admin.

``/admin/analytics/dashboard/`` is the dashboard (the "Dashboard" entry of the admin index);
``…/dashboard/member/<id>/`` the member 360° page (linked from the member's change page);
``…/dashboard/exports/`` starts and lists exports (progress polled as JSON, file downloaded).
Every view takes its brand from the staff user's brands: another brand's id is a 404.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from config.exports import export_job_download, export_job_progress
from loyalty.models import LedgerEntry
from members.admin_base import ReadOnlyAdmin
from members.models import Branch, Member
from members.selectors import brands_for_user

from .facts import facts_refresh_today
from .kpis import dashboard_data, period_for
from .member360 import member_360
from .models import Dashboard, ReportExport
from .reports import report_export_create


class DashboardForm(forms.Form):
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=None, empty_label=None)
    period = forms.ChoiceField(label=_("Period"), choices=[
        ("this_month", _("This month")), ("last_month", _("Last month")), ("last_30", _("Last 30 days")),
        ("last_90", _("Last 90 days")), ("custom", _("Custom"))], initial="this_month")
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands_for_user(user).order_by("name")


class ExportForm(forms.Form):
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=None, empty_label=None)
    kind = forms.ChoiceField(label=_("Report"), choices=ReportExport.Kind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=ReportExport.Format.choices)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=[("", "---------"), *LedgerEntry.Channel.choices])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        brands = brands_for_user(user)
        self.fields["brand"].queryset = brands.order_by("name")
        self.fields["branch"].queryset = Branch.objects.filter(brand__in=brands).select_related("brand")

    def clean(self):
        cleaned = super().clean()
        branch, brand = cleaned.get("branch"), cleaned.get("brand")
        if branch and brand and branch.brand_id != brand.pk:
            self.add_error("branch", _("This branch is not one of the brand's."))
        return cleaned


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.is_active and user.is_staff and (
            user.is_superuser or user.has_perm("analytics.view_dashboard"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.dashboard_view), name="analytics_dashboard"),
            path("", view(self.dashboard_view), name="analytics_dashboard_changelist"),  # the admin index link
            path("member/<int:member_id>/", view(self.member_view), name="analytics_member"),
            path("exports/", view(self.exports_view), name="analytics_exports"),
            path("exports/<int:export_id>/progress/", view(self.export_progress_view),
                 name="analytics_export_progress"),
            path("exports/<int:export_id>/download/", view(self.export_download_view),
                 name="analytics_export_download"),
        ]

    def _check(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _context(self, request, title, **extra) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **extra}

    def dashboard_view(self, request):
        self._check(request)
        form = DashboardForm(request.GET or None, user=request.user)
        brands = form.fields["brand"].queryset
        if request.GET:
            if not form.is_valid():
                if "brand" in form.errors:
                    raise Http404
                brand = brands.first()
            else:
                brand = form.cleaned_data["brand"]
        else:
            brand = brands.first()
        if brand is None:
            raise PermissionDenied
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        period = period_for(data.get("period") or "this_month", start=data.get("start"), end=data.get("end"))
        if not form.is_bound:
            form = DashboardForm(initial={"brand": brand, "period": "this_month"}, user=request.user)
        from .facts import bangkok_today

        if period.end >= bangkok_today():
            facts_refresh_today(brand_id=brand.pk, force=request.GET.get("refresh") == "1",
                                background=request.GET.get("refresh") != "1")
        result = dashboard_data(brand=brand, period=period)
        kpis, previous = result["kpis"], result["previous"]
        rows = []
        for key, label, kind in (
                ("new_members", _("New members"), "int"), ("active_members", _("Active members"), "int"),
                ("repeat_rate", _("Repeat purchase rate"), "percent"), ("purchases", _("Purchases"), "int"),
                ("spend", _("Spend (THB)"), "money"), ("spend_per_member", _("Average spend per member (THB)"), "money"),
                ("points_issued", _("Points issued"), "int"), ("points_redeemed", _("Points redeemed"), "int"),
                ("points_expired", _("Points expired"), "int"), ("redemption_rate", _("Redemption rate"), "percent")):
            now, before = kpis[key], previous[key]
            change = None
            if now is not None and before:
                change = round((float(now) - float(before)) * 100 / float(before), 1)
            rows.append({"key": key, "label": label, "kind": kind, "value": now, "previous": before,
                         "change": change})
        charts = result["charts"]
        chart_data = {
            "members": charts["members"], "points": charts["points"],
            "tiers": [{"label": t["name_en"] if request.LANGUAGE_CODE == "en" and t["name_en"] else t["name"],
                       "color": t["color"], "value": t["members"]} for t in charts["tiers"]],
            "rfm": [{"label": g["label"], "value": g["members"]} for g in charts["rfm"]] if charts["rfm"] else None,
            "channels": [{"label": c["label"], "value": c["points"]} for c in charts["channels"]],
            "campaigns": [{"label": c["label"], "entries": c["entries"], "value": c["members"]}
                          for c in charts["campaigns"]],
            "labels": {"new": str(_("New members")), "total": str(_("All members")),
                       "issued": str(_("Issued")), "redeemed": str(_("Redeemed")), "expired": str(_("Expired")),
                       "members": str(_("Members")), "points": str(_("Points"))},
        }
        context = self._context(
            request, _("Dashboard"), form=form, brand=brand, result=result, kpi_rows=rows,
            chart_data=chart_data)
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)

    def member_view(self, request, member_id: int):
        self._check(request)
        members = Member.objects.select_related("brand").filter(brand__in=brands_for_user(request.user))
        member = get_object_or_404(members, pk=member_id)
        context = self._context(request, _("Member 360°: %(member)s") % {"member": member}, **member_360(member=member))
        return TemplateResponse(request, "admin/analytics/member360.html", context)

    def _exports(self, request):
        return ReportExport.objects.select_related("brand", "requested_by", "branch").filter(
            brand__in=brands_for_user(request.user))

    def exports_view(self, request):
        self._check(request)
        form = ExportForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            export = report_export_create(brand=data["brand"], requested_by=request.user, kind=data["kind"],
                                          format=data["format"], date_from=data["date_from"],
                                          date_to=data["date_to"], branch=data["branch"],
                                          channel=data["channel"] or "")
            return redirect(f"{reverse('admin:analytics_exports')}?started={export.pk}")
        context = self._context(request, _("Reports (CSV / XLSX)"), form=form, exports=self._exports(request)[:30])
        return TemplateResponse(request, "admin/analytics/exports.html", context)

    def export_progress_view(self, request, export_id: int):
        self._check(request)
        export = get_object_or_404(self._exports(request), pk=export_id)
        return export_job_progress(export, download_url_name="admin:analytics_export_download")

    def export_download_view(self, request, export_id: int):
        self._check(request)
        return export_job_download(get_object_or_404(self._exports(request), pk=export_id))


@admin.register(ReportExport)
class ReportExportAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "brand", "kind", "format", "status", "written", "total", "requested_by"]
    list_filter = ["brand", "kind", "status"]
