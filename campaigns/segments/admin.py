"""Segments admin (issue 9): the condition builder with a live count, tags, member statistics.

Staff only see their brands' rows (``BrandScopedAdmin``). The builder (``segments/builder.js``,
plain JS served by staticfiles, no CDN) edits the definition on the Segment change form and
posts each draft to ``count/`` (``SegmentAdmin.count_view``), which validates it for the
segment's brand, counts it and returns a sample of 20 members. Tags are assigned on the tag
page (inline), from a CSV upload, or from a segment; every write goes through the services.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin
from members.models import Brand
from members.selectors import brand_ids_for_user

from .conditions import TYPES
from .definition import definition_clean, definition_describe
from .errors import SegmentDefinitionInvalid
from .models import MemberStats, MemberTag, MemberTagging, Segment
from .services import audience_preview, member_tags_from_segment, member_tags_import_csv, segment_count


def builder_schema(brand) -> list[dict]:
    return [{"type": key, "label": kind.label(), "params": kind.params(brand)} for key, kind in TYPES.items()]


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["brand", "name", "description", "definition"]
        widgets = {"definition": forms.Textarea(attrs={"rows": 4, "data-testid": "segment-definition"})}

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        if brand is not None:
            try:
                cleaned["definition"] = definition_clean(brand=brand, definition=cleaned.get("definition") or {})
            except SegmentDefinitionInvalid as error:
                raise ValidationError({"definition": [f"{field}: {'; '.join(map(str, texts))}"
                                                      for field, texts in error.fields.items()]}) from error
        return cleaned


@admin.register(Segment)
class SegmentAdmin(BrandScopedAdmin):
    form = SegmentForm
    list_display = ["name", "brand", "summary", "last_count", "counted_at"]
    list_filter = ["brand"]
    search_fields = ["name", "description"]
    readonly_fields = ["last_count", "counted_at"]
    actions = ["count_now"]
    change_form_template = "admin/segments/segment/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj is not None else self.readonly_fields

    @admin.display(description=_("conditions"))
    def summary(self, obj):
        try:
            return definition_describe(definition_clean(brand=obj.brand, definition=obj.definition), obj.brand)
        except SegmentDefinitionInvalid:
            return gettext("Invalid conditions: open the segment to fix them.")

    @admin.action(description=_("Count the members of the selected segments now"))
    def count_now(self, request, queryset):
        for segment in queryset.select_related("brand"):
            try:
                count = segment_count(segment=segment)
            except DomainError as error:
                messages.error(request, f"{segment}: {error.message}")
            else:
                messages.success(request, gettext("%(segment)s: %(count)s members.")
                                 % {"segment": segment, "count": f"{count:,}"})

    def get_urls(self):
        return [path("count/", self.admin_site.admin_view(self.count_view), name="segments_segment_count"),
                *super().get_urls()]

    def count_view(self, request):
        """POST ``{"brand": id, "definition": {...}}``: count, summary and 20 members, or 400 with field errors.

        The brand must be one of the user's (404 otherwise, as for any row they cannot see).
        """
        if request.method != "POST":
            return JsonResponse({"error": "POST a draft definition."}, status=405)
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            payload = json.loads(request.body or b"{}")
            brand_id = int(payload.get("brand"))
        except (ValueError, TypeError, AttributeError) as error:
            raise Http404 from error
        if brand_id not in brand_ids_for_user(request.user):
            raise Http404
        brand = get_object_or_404(Brand, pk=brand_id)
        try:
            audience = audience_preview(brand=brand, definition=payload.get("definition") or {})
        except SegmentDefinitionInvalid as error:
            return JsonResponse({"errors": {k: [str(t) for t in v] for k, v in error.fields.items()}}, status=400)
        return JsonResponse({
            "count": audience.count,
            "summary": definition_describe(audience.definition, brand),
            "sample": [{"code": m.code, "name": m.full_name or m.display_name or m.phone or m.code,
                        "url": reverse("admin:members_member_change", args=[m.pk])} for m in audience.sample],
        })

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        brand = obj.brand if obj is not None else None
        if brand is None:
            brands = list(Brand.objects.filter(pk__in=brand_ids_for_user(request.user))[:2])
            brand = brands[0] if len(brands) == 1 else None
        if brand is not None:
            context["builder_schema"] = builder_schema(brand)
            context["builder_brand"] = brand.pk
            context["builder_count_url"] = reverse("admin:segments_segment_count")
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


class TaggingFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.forms:
            member = getattr(form, "cleaned_data", {}).get("member")
            if member is not None and member.brand_id != self.instance.brand_id:
                form.add_error("member", gettext("The member must belong to the tag's brand."))


class MemberTaggingInline(admin.TabularInline):
    model = MemberTagging
    formset = TaggingFormSet
    extra = 1
    autocomplete_fields = ["member"]
    readonly_fields = ["by", "at"]
    fields = ["member", "by", "at"]


class TagCsvForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("One member code or phone number per line; "
                                                            "an optional header line."))


class TagFromSegmentForm(forms.Form):
    segment = forms.ModelChoiceField(label=_("segment"), queryset=Segment.objects.none())


@admin.register(MemberTag)
class MemberTagAdmin(BrandScopedAdmin):
    list_display = ["name", "swatch", "brand", "members"]
    list_filter = ["brand"]
    search_fields = ["name"]
    inlines = [MemberTaggingInline]
    change_form_template = "admin/segments/membertag/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return ["brand"] if obj is not None else []

    @admin.display(description=_("colour"))
    def swatch(self, obj):
        return format_html('<span style="display:inline-block;width:1em;height:1em;border-radius:50%;'
                           'background:{}"></span> {}', obj.colour, obj.colour)

    @admin.display(description=_("members"))
    def members(self, obj):
        return obj.taggings.count()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for tagging in instances:
            if tagging.by_id is None:
                tagging.by = request.user
            tagging.save()
        for deleted in formset.deleted_objects:
            deleted.delete()

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:tag_id>/import/", view(self.import_view), name="segments_membertag_import"),
                path("<int:tag_id>/from-segment/", view(self.from_segment_view),
                     name="segments_membertag_from_segment"),
                *super().get_urls()]

    def _tag(self, request, tag_id: int) -> MemberTag:
        tag = get_object_or_404(self.get_queryset(request), pk=tag_id)
        if not self.has_change_permission(request, tag):
            raise PermissionDenied
        return tag

    def import_view(self, request, tag_id: int):
        tag = self._tag(request, tag_id)
        form = TagCsvForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = member_tags_import_csv(tag=tag, data=form.cleaned_data["file"].read(), by=request.user)
            except DomainError as error:
                for texts in (error.fields or {"file": [error.message]}).values():
                    for text in texts:
                        form.add_error("file", str(text))
        context = {**self.admin_site.each_context(request), "title": _("Tag members from a CSV file"), "form": form,
                   "tag": tag, "report": report, "opts": self.model._meta, "multipart": True}
        return TemplateResponse(request, "admin/segments/membertag/tag_form.html", context)

    def from_segment_view(self, request, tag_id: int):
        tag = self._tag(request, tag_id)
        form = TagFromSegmentForm(request.POST or None)
        form.fields["segment"].queryset = Segment.objects.filter(brand_id=tag.brand_id)
        if request.method == "POST" and form.is_valid():
            try:
                tagged = member_tags_from_segment(tag=tag, segment=form.cleaned_data["segment"], by=request.user)
            except DomainError as error:
                form.add_error("segment", str(error.message))
            else:
                messages.success(request, gettext("Tagged %(count)s more members “%(tag)s”.")
                                 % {"count": f"{tagged:,}", "tag": tag.name})
                return redirect("admin:segments_membertag_change", tag.pk)
        context = {**self.admin_site.each_context(request), "title": _("Tag the members of a segment"),
                   "form": form, "tag": tag, "opts": self.model._meta}
        return TemplateResponse(request, "admin/segments/membertag/tag_form.html", context)


@admin.register(MemberStats)
class MemberStatsAdmin(ReadOnlyAdmin):
    list_display = ["member", "rfm_group", "recency_score", "frequency_score", "monetary_score", "purchase_count",
                    "total_spend", "average_ticket", "last_purchase_at", "favourite_branch", "usual_weekday",
                    "usual_hour"]
    list_filter = ["brand", "rfm_group"]
    search_fields = ["member__code", "member__phone", "member__first_name"]
    list_select_related = ["member", "favourite_branch"]
