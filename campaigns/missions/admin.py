"""Missions admin: compose, preview, publish/pause/end, results; review moderation; referrals.

Every list is scoped to the staff user's brands (``BrandScopedAdmin``); status changes and
moderation go through the services, so the admin obeys the same rules as everything else.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError
from members.admin_base import BrandScopedAdmin, ReadOnlyAdmin, SameBrandForm
from members.selectors import brand_ids_for_user

from . import selectors
from .models import Contribution, Mission, MissionProgress, Objective, ProductReview, Referral
from .reviews import review_publish, review_reject
from .services import mission_end, mission_pause, mission_publish


class MissionForm(SameBrandForm):
    image_url = forms.URLField(label=_("image URL"), required=False, assume_scheme="https")
    same_brand = {"reward_currency": _("Choose a currency of this brand."),
                  "reward_coupon": _("Choose a reward of this brand.")}

    class Meta:
        model = Mission
        fields = ("brand", "name", "name_en", "description", "description_en", "image_url", "starts_at", "ends_at",
                  "window", "window_days", "repeatable", "max_completions", "tiers", "reward_currency",
                  "reward_points", "reward_coupon")

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        tiers = cleaned.get("tiers")
        if brand and tiers and any(tier.brand_id != brand.pk for tier in tiers):
            self.add_error("tiers", _("Choose tiers of this brand."))
        if cleaned.get("window") == Mission.Window.ROLLING and not cleaned.get("window_days"):
            self.add_error("window_days", _("A rolling window needs its number of days."))
        if cleaned.get("reward_points") and not cleaned.get("reward_currency"):
            self.add_error("reward_currency", _("Points need a currency."))
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The mission must end after it starts."))
        return cleaned


class ObjectiveForm(forms.ModelForm):
    class Meta:
        model = Objective
        fields = ("position", "kind", "target", "sku", "category", "measure", "survey")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Objective.Kind.PRODUCT and not (cleaned.get("sku") or cleaned.get("category")):
            self.add_error("sku", _("Enter a SKU or a category."))
        return cleaned


class ObjectiveInline(admin.TabularInline):
    model = Objective
    form = ObjectiveForm
    extra = 1
    fields = ("position", "kind", "target", "sku", "category", "measure", "survey")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "survey" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(brand_id__in=brand_ids_for_user(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _run(modeladmin, request, queryset, service, done_message):
    changed = 0
    for mission in queryset:
        try:
            service(mission=mission)
        except DomainError as error:
            modeladmin.message_user(request, f"{mission}: {error.message}", messages.ERROR)
        else:
            changed += 1
    if changed:
        modeladmin.message_user(request, done_message % {"count": changed}, messages.SUCCESS)


@admin.register(Mission)
class MissionAdmin(BrandScopedAdmin):
    form = MissionForm
    inlines = [ObjectiveInline]
    list_display = ("name", "brand", "status", "starts_at", "ends_at", "window", "repeatable", "reward_points",
                    "reward_coupon", "links")
    list_filter = ("status", "brand", "window")
    search_fields = ("name", "name_en")
    filter_horizontal = ("tiers",)
    readonly_fields = ("status", "published_at", "links")
    actions = ["publish", "pause", "end"]
    fieldsets = (
        (None, {"fields": ("brand", "name", "name_en", "description", "description_en", "image_url", "status",
                           "published_at", "links")}),
        (_("When"), {"fields": ("starts_at", "ends_at", "window", "window_days", "repeatable", "max_completions")}),
        (_("Who"), {"fields": ("tiers",),
                    "description": _("Audience segments will be added next to tiers.")}),
        (_("Reward on completion"), {"fields": ("reward_currency", "reward_points", "reward_coupon")}),
    )

    @admin.display(description=_("preview and results"))
    def links(self, obj):
        if not obj or not obj.pk:
            return "–"
        return format_html('<a href="{}">{}</a> · <a href="{}">{}</a>',
                           reverse("admin:missions_mission_preview", args=[obj.pk]), _("Preview"),
                           reverse("admin:missions_mission_results", args=[obj.pk]), _("Results"))

    @admin.action(description=_("Publish (start collecting progress)"), permissions=["change"])
    def publish(self, request, queryset):
        _run(self, request, queryset, mission_publish, _("%(count)s mission(s) published."))

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request, queryset):
        _run(self, request, queryset, mission_pause, _("%(count)s mission(s) paused."))

    @admin.action(description=_("End"), permissions=["change"])
    def end(self, request, queryset):
        _run(self, request, queryset, mission_end, _("%(count)s mission(s) ended."))

    def get_urls(self):
        return [
            path("<int:mission_id>/preview/", self.admin_site.admin_view(self.preview_view),
                 name="missions_mission_preview"),
            path("<int:mission_id>/results/", self.admin_site.admin_view(self.results_view),
                 name="missions_mission_results"),
            *super().get_urls(),
        ]

    def _mission(self, request, mission_id: int) -> Mission:
        mission = get_object_or_404(self.get_queryset(request).prefetch_related("objectives__survey", "tiers"),
                                    pk=mission_id)
        if not self.has_view_permission(request, mission):
            raise PermissionDenied
        return mission

    def _page(self, request, mission, template: str, title, **extra):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title,
                   "mission": mission, "original": mission, **extra}
        return TemplateResponse(request, template, context)

    def preview_view(self, request, mission_id: int):
        mission = self._mission(request, mission_id)
        objectives = [(objective, selectors.objective_label(objective, request.LANGUAGE_CODE))
                      for objective in mission.objectives.all()]
        return self._page(request, mission, "admin/missions/preview.html", _("Mission preview"),
                          objectives=objectives, tiers=list(mission.tiers.all()),
                          audience=selectors.mission_audience_count(mission=mission), now=timezone.now())

    def results_view(self, request, mission_id: int):
        mission = self._mission(request, mission_id)
        return self._page(request, mission, "admin/missions/results.html", _("Mission results"),
                          results=selectors.mission_results(mission=mission))


@admin.register(ProductReview)
class ProductReviewAdmin(BrandScopedAdmin):
    list_display = ("product_name", "sku", "rating", "member", "status", "created_at", "moderated_by")
    list_filter = ("status", "rating", "brand")
    search_fields = ("sku", "product_name", "text", "member__code")
    readonly_fields = ("brand", "member", "purchase_line", "sku", "product_name", "rating", "text", "status",
                       "moderated_by", "moderated_at", "created_at")
    fields = readonly_fields
    actions = ["publish", "reject"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _moderate(self, request, queryset, service, done_message):
        done = 0
        for review in queryset:
            try:
                service(review=review, staff_user=request.user)
            except DomainError as error:
                self.message_user(request, f"{review}: {error.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Publish selected reviews"), permissions=["change"])
    def publish(self, request, queryset):
        self._moderate(request, queryset, review_publish, _("%(count)s review(s) published."))

    @admin.action(description=_("Reject selected reviews"), permissions=["change"])
    def reject(self, request, queryset):
        self._moderate(request, queryset, review_reject, _("%(count)s review(s) rejected."))


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ("referrer", "referred", "created_at", "brand")
    list_filter = ("brand",)
    search_fields = ("referrer__code", "referred__code")


class ContributionInline(admin.TabularInline):
    model = Contribution
    fields = ("objective", "source_kind", "source_id", "event_key", "value", "dimension", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MissionProgress)
class MissionProgressAdmin(ReadOnlyAdmin):
    list_display = ("mission", "member", "cycle", "window_starts_at", "window_ends_at", "completed_at")
    list_filter = ("mission", "brand")
    search_fields = ("member__code",)
    inlines = [ContributionInline]
