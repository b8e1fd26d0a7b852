"""Consent in the staff admin.

Documents and drafts are edited here; published versions and the consent log are
read-only (the log has no add, change or delete path at all). The consent record list
links every member to a *member privacy page* (status per document, full history, a
withdrawal on the member's behalf with a required reason, the audited personal-data
export, erasure). Reports: the CSV export of the log (built by Celery, with a progress
bar) and the current-status summary per document version.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from config.exports import export_job_download, export_job_progress
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin
from members.data_export import member_data_export
from members.erasure import member_erase
from members.models import Brand, Member
from members.selectors import brand_ids_for_user, brands_for_user

from .models import (
    ConsentAnonymisation,
    ConsentDocument,
    ConsentExport,
    ConsentRecord,
    ConsentVersion,
    PersonalDataAccess,
)
from .reports import consent_export_create
from .selectors import consent_status_summary, member_consent_overview
from .services import consent_change, consent_version_publish, personal_data_access_record

VERSION_FIELDS = ["version", "content_th", "content_en", "effective_at"]


class DraftVersionInline(admin.StackedInline):
    """Drafts are edited here; they are published with the action on the versions list."""

    model = ConsentVersion
    verbose_name = _("draft version")
    verbose_name_plural = _("draft versions")
    fields = VERSION_FIELDS
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=ConsentVersion.Status.DRAFT)


class PublishedVersionInline(admin.StackedInline):
    """Published text is frozen: shown, never changed or deleted."""

    model = ConsentVersion
    verbose_name = _("published version")
    verbose_name_plural = _("published versions")
    fields = [*VERSION_FIELDS, "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=ConsentVersion.Status.PUBLISHED)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(BrandScopedAdmin):
    list_display = ["title_th", "title_en", "kind", "is_required", "brand", "updated_at"]
    list_filter = ["brand", "kind", "is_required"]
    search_fields = ["title_th", "title_en"]
    inlines = [PublishedVersionInline, DraftVersionInline]

    def get_readonly_fields(self, request, obj=None):
        # Its records and versions belong to this brand: the brand never changes.
        return ["brand"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # members' decisions refer to it


@admin.action(description=_("Publish the selected draft versions"), permissions=["change"])
def publish_versions(modeladmin, request, queryset):
    published = 0
    for version in queryset.order_by("document_id", "version"):
        try:
            consent_version_publish(version=version)
        except DomainError as error:
            messages.error(request, f"{version}: {error.message}")
        else:
            published += 1
    if published:
        messages.success(request, _("Published %(count)d versions.") % {"count": published})


@admin.register(ConsentVersion)
class ConsentVersionAdmin(BrandScopedAdmin):
    brand_path = "document__brand"
    list_display = ["__str__", "document", "version", "status", "effective_at", "published_at"]
    list_filter = ["document__brand", "document__kind", "status"]
    search_fields = ["document__title_th", "document__title_en", "content_th", "content_en"]
    list_select_related = ["document"]
    fields = ["document", *VERSION_FIELDS, "status", "published_at"]
    actions = [publish_versions]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return list(self.fields)
        return ["status", "published_at", *(["document"] if obj else [])]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would hit published versions; drafts are deleted one by one
        return actions


class WithdrawForm(forms.Form):
    document = forms.ModelChoiceField(queryset=ConsentDocument.objects.none(), label=_("Document"))
    reason = forms.CharField(label=_("Reason (e.g. the member's phone call)"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document"].queryset = ConsentDocument.objects.filter(brand_id=member.brand_id)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class EraseForm(ReasonForm):
    confirm = forms.CharField(label=_("Type the member code to confirm"))

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip().upper()
        if value != self.member.code:
            raise forms.ValidationError(_("This is not the member's code."))
        return value


class ExportForm(forms.Form):
    brand = forms.ModelChoiceField(queryset=Brand.objects.none(), label=_("Brand"))
    date_from = forms.DateField(label=_("From (Bangkok date)"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To (Bangkok date, inclusive)"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Document kind"), required=False,
                             choices=[("", _("All kinds")), *ConsentDocument.Kind.choices])
    version = forms.ModelChoiceField(queryset=ConsentVersion.objects.none(), label=_("Version"), required=False)
    decision = forms.ChoiceField(label=_("Status"), required=False, choices=ConsentExport.Decision.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        brands = brands_for_user(user)
        self.fields["brand"].queryset = brands
        self.fields["version"].queryset = (ConsentVersion.objects.filter(
            document__brand__in=brands, status=ConsentVersion.Status.PUBLISHED).select_related("document")
            .order_by("document__brand", "document", "-version"))

    def clean(self):
        cleaned = super().clean()
        brand, version = cleaned.get("brand"), cleaned.get("version")
        if brand and version and version.document.brand_id != brand.pk:
            self.add_error("version", _("This version belongs to another brand."))
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", _("The end is before the start."))
        return cleaned


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    brand_path = "document__brand"
    list_display = ["id", "created_at", "member_page", "document", "version", "granted", "channel", "staff_user"]
    list_filter = ["document__brand", "document__kind", "granted", "channel"]
    search_fields = ["member__code", "member__phone", "member__first_name", "member__last_name"]
    list_select_related = ["member", "document", "version__document", "staff_user"]
    date_hierarchy = "created_at"
    change_list_template = "admin/consent/consentrecord/change_list.html"

    @admin.display(description=_("member"), ordering="member")
    def member_page(self, obj):
        url = reverse("admin:consent_member", args=[obj.member_id])
        return format_html('<a href="{}">{}</a>', url, obj.member)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("member/", view(self.member_find_view), name="consent_member_find"),
            path("member/<int:member_id>/", view(self.member_view), name="consent_member"),
            path("member/<int:member_id>/export/", view(self.member_export_view), name="consent_member_export"),
            path("member/<int:member_id>/erase/", view(self.member_erase_view), name="consent_member_erase"),
            path("exports/", view(self.exports_view), name="consent_exports"),
            path("exports/<int:export_id>/progress/", view(self.export_progress_view),
                 name="consent_export_progress"),
            path("exports/<int:export_id>/download/", view(self.export_download_view),
                 name="consent_export_download"),
            path("summary/", view(self.summary_view), name="consent_summary"),
            *super().get_urls(),
        ]

    # --- helpers ---

    def _context(self, request, title, **extra) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **extra}

    def _member(self, request, member_id: int) -> Member:
        if not self.has_view_permission(request):
            raise PermissionDenied
        members = Member.objects.select_related("brand", "user")
        if not request.user.is_superuser:
            members = members.filter(brand_id__in=brand_ids_for_user(request.user))
        return get_object_or_404(members, pk=member_id)

    def _exports(self, request):
        exports = ConsentExport.objects.select_related("brand", "requested_by", "version__document")
        if request.user.is_superuser:
            return exports
        return exports.filter(brand_id__in=brand_ids_for_user(request.user))

    # --- the member page ---

    def member_find_view(self, request):
        """Find a member by code or phone (the member page for members with no record yet)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()
        members = Member.objects.none()
        if query:
            members = Member.objects.filter(Q(code=query.upper()) | Q(phone=query) | Q(phone__endswith=query[-9:]))
            if not request.user.is_superuser:
                members = members.filter(brand_id__in=brand_ids_for_user(request.user))
            members = members.select_related("brand")[:20]
            if len(members) == 1:
                return redirect("admin:consent_member", members[0].pk)
        return TemplateResponse(request, "admin/consent/member_find.html", self._context(
            request, _("Find a member"), query=query, members=members))

    def member_view(self, request, member_id: int):
        member = self._member(request, member_id)
        form = WithdrawForm(member=member)
        if request.method == "POST":
            if not request.user.has_perm("consent.add_consentrecord"):
                raise PermissionDenied
            form = WithdrawForm(request.POST, member=member)
            if form.is_valid():
                try:
                    consent_change(member=member, document_id=form.cleaned_data["document"].pk, granted=False,
                                   channel=ConsentRecord.Channel.STAFF, staff_user=request.user,
                                   reason=form.cleaned_data["reason"])
                except DomainError as error:
                    messages.error(request, error.message)
                else:
                    messages.success(request, _("The withdrawal is recorded."))
                    return redirect("admin:consent_member", member.pk)
        context = self._context(
            request, _("Privacy: %(member)s") % {"member": member}, member=member,
            rows=member_consent_overview(member=member, history_limit=500), withdraw_form=form,
            export_form=ReasonForm(prefix="export"), erase_form=EraseForm(prefix="erase", member=member),
            accesses=PersonalDataAccess.objects.filter(member=member).select_related("staff_user")[:50],
            can_withdraw=request.user.has_perm("consent.add_consentrecord"),
            can_access=request.user.has_perm("consent.add_personaldataaccess"))
        return TemplateResponse(request, "admin/consent/member.html", context,
                                status=400 if form.is_bound and not form.is_valid() else 200)

    def member_export_view(self, request, member_id: int):
        """The member's personal data as JSON, for staff: a reason is required and the access audited."""
        member = self._member(request, member_id)
        if request.method != "POST" or not request.user.has_perm("consent.add_personaldataaccess"):
            raise PermissionDenied
        form = ReasonForm(request.POST, prefix="export")
        if not form.is_valid():
            messages.error(request, _("Give the reason for accessing this member's personal data."))
            return redirect("admin:consent_member", member.pk)
        personal_data_access_record(member=member, action=PersonalDataAccess.Action.EXPORT,
                                    channel=PersonalDataAccess.Channel.STAFF, staff_user=request.user,
                                    reason=form.cleaned_data["reason"], ip=request.META.get("REMOTE_ADDR"))
        body = json.dumps(member_data_export(member=member), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="member-{member.pk}-{stamp}.json"'
        response["Cache-Control"] = "no-store"
        return response

    def member_erase_view(self, request, member_id: int):
        member = self._member(request, member_id)
        if request.method != "POST" or not request.user.has_perm("consent.add_personaldataaccess"):
            raise PermissionDenied
        form = EraseForm(request.POST, prefix="erase", member=member)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect("admin:consent_member", member.pk)
        try:
            member_erase(member=member, reason=form.cleaned_data["reason"], staff_user=request.user,
                         ip=request.META.get("REMOTE_ADDR"))
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The member's personal data is erased."))
        return redirect("admin:consent_member", member.pk)

    # --- reports ---

    def exports_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ExportForm(user=request.user)
        if request.method == "POST":
            form = ExportForm(request.POST, user=request.user)
            if form.is_valid():
                data = form.cleaned_data
                export = consent_export_create(brand=data["brand"], requested_by=request.user,
                                               date_from=data["date_from"], date_to=data["date_to"],
                                               kind=data["kind"], version=data["version"],
                                               decision=data["decision"])
                return redirect(f"{reverse('admin:consent_exports')}?started={export.pk}")
        context = self._context(request, _("Export the consent log (CSV)"), form=form,
                                exports=self._exports(request)[:30], started=request.GET.get("started", ""))
        return TemplateResponse(request, "admin/consent/exports.html", context)

    def export_progress_view(self, request, export_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(self._exports(request), pk=export_id)
        return export_job_progress(export, download_url_name="admin:consent_export_download")

    def export_download_view(self, request, export_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return export_job_download(get_object_or_404(self._exports(request), pk=export_id))

    def summary_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        brands = brands_for_user(request.user)
        sections = [(brand, consent_status_summary(brand=brand)) for brand in brands.order_by("name")]
        return TemplateResponse(request, "admin/consent/summary.html", self._context(
            request, _("Current consent status per version"), sections=sections))


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "action", "channel", "member", "staff_user", "reason"]
    list_filter = ["brand", "action", "channel"]
    search_fields = ["member__code", "reason", "staff_user__username"]
    list_select_related = ["member", "staff_user"]
    date_hierarchy = "created_at"


@admin.register(ConsentAnonymisation)
class ConsentAnonymisationAdmin(ReadOnlyAdmin):
    brand_path = "member__brand"
    list_display = ["id", "created_at", "member", "records", "staff_user", "reason"]
    list_select_related = ["member", "staff_user"]


@admin.register(ConsentExport)
class ConsentExportAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "brand", "requested_by", "status", "written", "total", "download"]
    list_filter = ["brand", "status"]
    list_select_related = ["brand", "requested_by"]

    @admin.display(description=_("file"))
    def download(self, obj):
        if obj.status != ConsentExport.Status.DONE:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:consent_export_download", args=[obj.pk]),
                           _("Download"))

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:consent_exports")
